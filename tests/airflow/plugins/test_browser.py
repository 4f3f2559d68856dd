"""End to end in headless Chromium (Debian's, driven by Playwright; no browser is downloaded): log in, find jobs in
the list, watch a running job's log arrive live and cancel it, open a finished one, and keep screenshots."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dsjobs import compat
from airflow_provider_dsjobs.documents.record import JobRecord
from airflow_provider_dsjobs.jobs.service import JobService
from tests.airflow.plugins.helpers import PASSWORDS, ApiServer, follow_in_background, run_echo
from tests.helpers import unavailable

pytestmark = [pytest.mark.airflow, pytest.mark.docker, pytest.mark.browser]

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture()
def browser_page(tmp_path: Path) -> Iterator[Any]:
    """A page in a fresh headless Chromium profile (``--user-data-dir`` under the test's directory)."""
    chromium = os.environ.get("DSJOBS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        unavailable("Chromium", "DSJOBS_REQUIRE_BROWSER", "install Debian's chromium (scripts/test.sh does)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        unavailable("Playwright", "DSJOBS_REQUIRE_BROWSER", "pip install playwright (the test extras have it)")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1366, "height": 860},
            color_scheme="light",
        )
        context.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)  # a loaded machine: outcomes matter here, not speed
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def screenshot_dir(tmp_path: Path) -> Path:
    """The test's own directory, or ``DSJOBS_SCREENSHOT_DIR`` when set (to refresh the README's picture)."""
    wanted = os.environ.get("DSJOBS_SCREENSHOT_DIR")
    return Path(wanted) if wanted else tmp_path


def test_list_job_and_live_log_in_chromium(
    api_server: ApiServer, server_service: JobService, resourced_job: JobRecord, browser_page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    done = run_echo(server_service)  # finished before the browser looks
    live = run_echo(server_service, wait=False, SLEEP="0.1", LINES="1200")  # runs until cancelled below

    page.goto(f"{api_server.url}/dsjobs/")
    page.wait_for_url("**/auth/login**")  # no session yet: the auth manager's login page
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORDS["admin"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/(dsjobs/.*)?$"))
    if "/dsjobs/" not in page.url:  # 3.0's login page ignores the page that asked and lands on the UI's home
        assert compat.AIRFLOW_VERSION.release[:2] == (3, 0), f"the login did not come back to the page: {page.url}"
        # 3.0's UI moves the login from its cookie into localStorage: the page's session.js brings it back.
        page.goto(f"{api_server.url}/dsjobs/")

    # The list, newest first: the running job, then the finished one.
    rows = page.locator("table.jobs tbody tr")
    expect(rows.nth(0)).to_contain_text(live.id)
    expect(rows.nth(1)).to_contain_text(done.id)
    expect(rows.nth(1).locator(".badge")).to_have_text("success")

    # A running job: its log streams in live, and the page's Cancel button ends it.
    rows.nth(0).get_by_role("link", name="plugin-echo").click()
    page.wait_for_url(f"**/dsjobs/jobs/{live.id}**")
    expect(page.locator("#job")).to_have_attribute("data-status", "EXECUTING")
    expect(page.locator("#log-state")).to_contain_text("live")
    expect(page.locator("#log")).to_contain_text("hello from the plugin job, line 0")
    expect(page.locator("#log")).to_contain_text("hello from the plugin job, line 5")  # arrived after the page loaded
    follower = follow_in_background(api_server.settings(), live.id)  # its task, which finishes the cancel
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel job").click()
    expect(page.locator("#job")).to_have_attribute("data-status", "CANCELLED", timeout=120_000)
    follower.join(timeout=60)

    # A finished job: outcome, the whole log, the output to download, the config without its secret.
    page.goto(f"{api_server.url}/dsjobs/")
    page.locator("table.jobs tbody tr", has_text=done.id).get_by_role("link", name="plugin-echo").click()
    page.wait_for_url(f"**/dsjobs/jobs/{done.id}**")
    expect(page.locator("#job")).to_have_attribute("data-status", "SUCCESS")
    expect(page.locator("#log")).to_contain_text("a warning on stderr")
    expect(page.locator("#log")).to_contain_text("exit code 0; SUCCESS")
    expect(page.get_by_role("link", name="vars/RESULT/result.txt")).to_be_visible()
    expect(page.locator("pre.config")).to_contain_text("GREETING")
    expect(page.locator("pre.config")).not_to_contain_text("not-for-anyone-s-eyes")

    out = screenshot_dir(tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / "job-page.png"))
    page.emulate_media(color_scheme="dark")  # outside Airflow's UI the page follows the system's theme
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.screenshot(path=str(out / "job-page-dark.png"))
    assert (out / "job-page.png").stat().st_size > 10_000

    # The nav entry: Airflow's UI shows the list inside its own frame (3.1+: external_views; 3.0 has no plugin
    # pages in its UI, test_compat checks what the plugin registers there).
    page.emulate_media(color_scheme="light")
    if compat.plugin_external_views():
        page.goto(f"{api_server.url}/plugin/dsjobs")
        expect(page.frame_locator("iframe").locator("table.jobs")).to_contain_text(done.id)
        page.screenshot(path=str(out / "jobs-in-airflow.png"))
    else:
        assert compat.AIRFLOW_VERSION.release[:2] == (3, 0), "Airflow 3.1+ must offer external_views"

    # A job that used project resources: its working storage and how its s3-mounts were synced, a failed one marked.
    page.goto(f"{api_server.url}/dsjobs/jobs/{resourced_job.id}")
    storage = page.locator("#working-storage")

    def fact(name: str) -> Any:
        return storage.locator(f"dt:text-is('{name}') + dd")

    expect(fact("Requested")).to_have_text("150.0 GiB at /job/work")
    expect(fact("Granted")).to_contain_text("free space checked")
    expect(fact("Free at start")).to_have_text(
        "400.5 GiB on the engine's disk, 20.0 GiB of it held by other jobs' working storage"
    )
    expect(fact("Storage driver")).to_have_text("overlay2 on extfs")
    synced = page.locator("#s3-sync tbody tr")
    expect(synced).to_have_count(2)
    expect(synced.nth(0)).to_contain_text("s3://lake-bucket/ckpt")
    expect(synced.nth(0)).to_contain_text("3 files, 3.5 MiB")
    expect(synced.nth(0)).to_contain_text("synced")
    expect(synced.nth(0)).to_contain_text("skipped: passwd-link: a symbolic link")
    expect(synced.nth(1)).to_contain_text("0 files, 0 B")
    expect(synced.nth(1).locator(".bad")).to_have_text(
        "sync FAILED: An error occurred (AccessDenied) when calling the PutObject operation: Access Denied"
    )
    expect(page.locator(".notice")).to_have_text(
        "syncing s3-mount scratch back to s3://scratch-bucket/tmp failed: An error occurred (AccessDenied) "
        "when calling the PutObject operation: Access Denied"
    )
    expect(synced.nth(0).locator(".bad")).to_have_count(0)
    page.screenshot(path=str(out / "job-resources.png"))
