"""Secrets at rest (OAuth tokens, provider credentials): Fernet, keyed by LEADHUB_ENCRYPTION_KEY."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBox:
    """Encrypts small JSON documents. Several comma-separated keys allow rotation: the first encrypts."""

    def __init__(self, keys: str):
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise ValueError("LEADHUB_ENCRYPTION_KEY is empty")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in parts])

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def encrypt(self, data: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(data, separators=(",", ":")).encode()).decode()

    def decrypt(self, token: str) -> dict[str, Any]:
        if not token:
            return {}
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise ValueError("stored credentials cannot be decrypted with the configured key") from None


def mask(value: str | None) -> str:
    """How a secret is shown back: enough to recognise it, not to use it."""
    if not value:
        return ""
    return "•" * 8 + value[-4:] if len(value) > 8 else "•" * 8
