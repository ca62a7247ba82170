"""`make bench-web` runs: a tiny run of `bot.webui.bench` prints every figure of its report."""

from __future__ import annotations

import pytest

from bot.webui import bench


@pytest.mark.slow
def test_the_web_benchmark_runs_and_reports(capsys):
    assert bench.main(["--quick"]) == 0
    report = capsys.readouterr().out
    assert "gallery of 40 public jobs in a store of 300 jobs" in report
    for row in ("gallery page (HTML), ms, 8 loads", "thumbnail, ms", "event-loop lag while"):
        assert row in report, report
    # Thumbnails are kept in the store: fewer made than loaded (clients share them).
    row = report.split("| thumbnail, ms, ", 1)[1]
    loads, made = int(row.split(" loads", 1)[0]), int(row.split("(", 1)[1].split(" made", 1)[0])
    assert 0 < made < loads
