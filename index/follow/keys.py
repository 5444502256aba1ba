"""The follow store's key: hashing (lookups) and sealing (delivery) of Discord ids.

Local: data/follow.key, 32 random bytes created once (0600). PostgreSQL: a secret shared by
every process (NEWSBOT_FOLLOW_KEY), else one derived from the bot's token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import FollowError
from ..usage.files import key_file

KEY_NAME = "follow.key"


def parse_key(text: str) -> bytes:
    """A 32-byte key written as hex (64 digits) or base64."""
    text = text.strip()
    try:
        key = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise FollowError("the follow key must be 32 bytes as hex or base64") from None
    if len(key) != 32:
        raise FollowError("the follow key must be 32 bytes as hex or base64")
    return key


def shared_key(secret: bytes | None, token: str | None) -> bytes:
    """The key processes sharing the database agree on: the secret, else one from the token."""
    if secret is not None:
        return secret
    if not token:
        raise FollowError("sealing followers' ids needs NEWSBOT_FOLLOW_KEY or DISCORD_TOKEN")
    return _hkdf(token.encode(), b"newsbot follow ids")


def load_key(data_dir: Path | str) -> bytes:
    """data_dir/follow.key: 32 random bytes (hex), created once, readable by its owner alone."""
    path = Path(data_dir) / KEY_NAME
    try:
        return parse_key(key_file(path))
    except (FollowError, UnicodeDecodeError):
        raise FollowError(f"follow key {path} is damaged (subscriptions cannot be read)") from None


def _hkdf(material: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material)


class Sealer:
    """The keyed hash (lookups) and the sealed id (delivery) of a member or channel."""

    def __init__(self, key: bytes):
        if len(key) != 32:
            raise FollowError("the follow key must be 32 bytes")
        self._mac = _hkdf(key, b"newsbot follow hash")
        self._aead = AESGCM(_hkdf(key, b"newsbot follow seal"))

    def hash(self, kind: str, target: int) -> str:
        return hmac.new(self._mac, f"{kind}:{int(target)}".encode(), hashlib.sha256).hexdigest()

    def seal(self, kind: str, target: int) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, int(target).to_bytes(8, "big"), kind.encode())

    def unseal(self, kind: str, sealed) -> int | None:
        """The id, or None when the key does not open it (another key sealed it)."""
        blob = bytes(sealed)
        try:
            plain = self._aead.decrypt(blob[:12], blob[12:], kind.encode())
        except (InvalidTag, ValueError):
            return None
        return int.from_bytes(plain, "big")
