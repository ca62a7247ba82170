"""Logging that never leaks secrets: the bot token and interaction/webhook tokens are redacted.

discord.py logs request URLs at DEBUG level, and interaction URLs carry the interaction token
(`/interactions/{id}/{token}/callback`, `/webhooks/{app}/{token}/...`), so redaction works on
patterns as well as on secrets registered explicitly.
"""

from __future__ import annotations

import logging
import re
import threading

from bot.logs import quiet_database_loggers

REDACTED = "<redacted>"

# Paths whose second segment is a secret token.
_TOKEN_PATHS = re.compile(r"(/(?:interactions|webhooks)/\d+/)([^/?\s'\"]+)")
# The shape of a Discord bot token: base64 user id . timestamp . hmac.
_BOT_TOKEN = re.compile(r"\b[A-Za-z\d_-]{20,}\.[A-Za-z\d_-]{5,}\.[A-Za-z\d_-]{20,}\b")
_AUTH_HEADER = re.compile(r"(Bot |Bearer )[^\s'\"]+")
# JSON / repr forms: "token": "...", token='...'
_TOKEN_FIELD = re.compile(r"""(['"]?token['"]?\s*[:=]\s*['"])([^'"]+)(['"])""", re.IGNORECASE)


class SecretRegistry:
    """Thread-safe set of literal secrets to scrub (bot token, interaction tokens in flight)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        """Register a secret; very short strings are ignored to avoid mangling ordinary text."""
        if secret and len(secret) >= 8:
            with self._lock:
                self._secrets.add(secret)

    def discard(self, secret: str | None) -> None:
        if secret:
            with self._lock:
                self._secrets.discard(secret)

    def snapshot(self) -> list[str]:
        with self._lock:
            # Longest first so a secret containing another is replaced whole.
            return sorted(self._secrets, key=len, reverse=True)


SECRETS = SecretRegistry()


def redact(text: str, registry: SecretRegistry = SECRETS) -> str:
    """Return `text` with every known or recognisable secret replaced by `<redacted>`."""
    for secret in registry.snapshot():
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _TOKEN_PATHS.sub(lambda m: m.group(1) + REDACTED, text)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + REDACTED, text)
    text = _TOKEN_FIELD.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)
    return _BOT_TOKEN.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    """Handler filter that rewrites each record's message and traceback with secrets removed."""

    def __init__(self, registry: SecretRegistry = SECRETS) -> None:
        super().__init__()
        self.registry = registry

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not drop the record
            message = str(record.msg)
        record.msg = redact(message, self.registry)
        record.args = None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text, self.registry)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text, self.registry)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.registry)
        return True


def setup_logging(level: str = "INFO", token: str | None = None) -> logging.Handler:
    """discord.py's logging setup with a redacting handler; returns the handler."""
    import discord

    SECRETS.add(token)
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    discord.utils.setup_logging(handler=handler, level=getattr(logging, level, logging.INFO))
    quiet_database_loggers()
    return handler
