"""A client of the api-server the plugin tests run (``conftest.api_server`` starts it): tokens for its two users
and requests that do not follow redirects."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_dsjobs.settings import Settings

PASSWORDS = {"admin": "admin-pw", "viewer": "viewer-pw"}


@dataclass
class ApiServer:
    url: str
    env: dict[str, str]
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def settings(self, project: str = "default") -> Settings:
        return Settings.from_env({**self.env, "DSJOBS_PROJECT": project})

    def token(self, user: str) -> str:
        if user not in self.tokens:
            body = json.dumps({"username": user, "password": PASSWORDS[user]}).encode()
            request = urllib.request.Request(
                f"{self.url}/auth/token", data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                self.tokens[user] = json.load(response)["access_token"]
        return self.tokens[user]

    def request(
        self, path: str, *, user: str | None = "admin", method: str = "GET", body: Any = None, **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        """``(status, headers, body)`` of one request, without following redirects."""
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        if user is not None:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method, headers=headers)
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def json(self, path: str, **kwargs: Any) -> Any:
        status, _, body = self.request(path, **kwargs)
        assert status == 200, (status, body[:500])
        return json.loads(body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
