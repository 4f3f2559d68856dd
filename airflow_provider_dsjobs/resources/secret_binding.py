"""Binding a secret to where it may be sent: a registry entry names a secret by ID and a place (a registry host,
a Spark Connect endpoint), and anyone who can write the store can change the place. So whoever registers the entry
proves they knew the secret for that place: the entry keeps ``pbkdf2-sha256$ROUNDS$SALT$HASH`` of the secret,
salted with a random salt, a purpose and the place. Before the secret is sent, the binding must still match the
secret and the place the entry names now; an entry pointed elsewhere, or a secret rotated since, is refused.

Nothing about the secret can be learnt from the binding but by guessing it through 100 000 PBKDF2 rounds per try.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

_KDF_ROUNDS = 100_000
_SCHEME = "pbkdf2-sha256"


def make_binding(secret: str, purpose: str, *place: str) -> str:
    """The binding of ``secret`` to ``place`` (its parts: host, user...) for ``purpose``."""
    salt = secrets.token_hex(16)
    return f"{_SCHEME}${_KDF_ROUNDS}${salt}${_derive(secret, salt, purpose, place, _KDF_ROUNDS)}"


def binding_matches(binding: str | None, secret: str, purpose: str, *place: str) -> bool:
    """Whether ``binding`` was made from ``secret`` for ``purpose`` and ``place`` (a malformed one never is)."""
    try:
        scheme, rounds, salt, digest = (binding or "").split("$")
        count = int(rounds)
    except ValueError:
        return False
    if scheme != _SCHEME or not 1000 <= count <= 10_000_000:
        return False
    return hmac.compare_digest(digest, _derive(secret, salt, purpose, place, count))


def _derive(secret: str, salt: str, purpose: str, place: tuple[str, ...], rounds: int) -> str:
    material = "\0".join((purpose, salt, *place)).encode()
    return hashlib.pbkdf2_hmac("sha256", secret.encode(), material, rounds).hex()
