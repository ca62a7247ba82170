"""Pure helpers: progress rendering and secret redaction in logs."""

from __future__ import annotations

import logging

from bot.discord_bot.progress import (
    QUEUE_UNTIMED,
    RUN_UNTIMED,
    format_duration,
    progress_text,
    queue_text,
    render_bar,
)
from bot.discord_bot.redact import RedactingFilter, SecretRegistry, redact


def test_render_bar_bounds():
    assert render_bar(0, 10, width=10) == "░" * 10 + " 0%"
    assert render_bar(5, 10, width=10) == "█" * 5 + "░" * 5 + " 50%"
    assert render_bar(12, 10, width=10) == "█" * 10 + " 100%"
    assert render_bar(3, 0, width=4) == "░░░░ 0%"


def test_format_duration():
    assert format_duration(None) == "?"
    assert format_duration(float("nan")) == "?"
    assert format_duration(4.4) == "4s"
    assert format_duration(185) == "3m 05s"
    assert format_duration(3720) == "1h 02m"


def test_progress_text_mentions_scale_and_eta():
    text = progress_text(step=50, total_steps=100, scale=2, scales=3, eta_s=65, elapsed_s=5)
    assert "50%" in text and "scale 2/3" in text and "1m 05s" in text


BOT_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcDE.abcdefghijklmnopqrstuvwxyz0123"


def test_redact_patterns_and_registered_secrets():
    registry = SecretRegistry()
    registry.add("itok-secret-123456")
    text = (
        f"POST http://x/api/v10/interactions/42/aW50ZXJhY3Rpb246/callback "
        f"PATCH /webhooks/7/itok-secret-123456/messages/@original Authorization: Bot {BOT_TOKEN} "
        f'{{"token": "abcdefghij"}} raw {BOT_TOKEN}'
    )
    out = redact(text, registry)
    assert "aW50ZXJhY3Rpb246" not in out
    assert "itok-secret-123456" not in out
    assert BOT_TOKEN not in out
    assert "abcdefghij" not in out
    assert "/interactions/42/<redacted>/callback" in out


def test_filter_redacts_messages_args_and_tracebacks():
    registry = SecretRegistry()
    registry.add("super-secret-token")
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Collect()
    handler.addFilter(RedactingFilter(registry))
    logger = logging.getLogger("test.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("calling %s", "https://d/webhooks/1/super-secret-token/messages/@original")
        try:
            raise RuntimeError("failed with super-secret-token")
        except RuntimeError:
            logger.exception("job %s failed", 17)
    finally:
        logger.removeHandler(handler)
    joined = "\n".join(records)
    assert "super-secret-token" not in joined
    assert "job 17 failed" in joined and "RuntimeError" in joined


def test_eta_texts_say_what_is_known_instead_of_a_question_mark():
    assert queue_text(3, 5, None) == f"Position **3** of 5 — {QUEUE_UNTIMED}"
    assert queue_text(3, 5, 250.0) == "Position **3** of 5 · ETA 4m 10s"
    early = progress_text(step=2, total_steps=40, eta_s=None)
    assert RUN_UNTIMED in early and "?" not in early
    assert "ETA 12s" in progress_text(step=20, total_steps=40, eta_s=12.0)
