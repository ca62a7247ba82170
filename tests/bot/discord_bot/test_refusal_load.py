"""The refused-commands bench scenario runs and refuses without downloading (small images)."""

from __future__ import annotations

from tests.bot.discord_bot.refusal_load import run_refusals_process


async def test_refused_commands_cause_no_downloads(tmp_path) -> None:
    result = await run_refusals_process(tmp_path, n=3, size=(640, 480))
    assert (result.refused, result.cdn_requests) == (3, 0)
    assert result.after["VmHWM"] >= result.before["VmRSS"] > 0
    assert "| CDN requests for their attachments | 0 |" in result.table()
