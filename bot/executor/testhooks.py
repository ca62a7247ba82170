"""Test-only fault injection: make an executor die mid-job, like a segfault would.

Inactive unless the environment variable `NST_TEST_CRASH_SEED` is set, which only the test suite
does. When it is, an executor that runs a job with exactly that `seed` kills its own process
(`os._exit`, no cleanup, no database write) after the first engine step — the job is then left
"running" with a heartbeat that goes stale, exactly as after `kill -9`.
"""

from __future__ import annotations

import os
import sys

CRASH_SEED_ENV = "NST_TEST_CRASH_SEED"
CRASH_EXIT_CODE = 86


def crash_seed() -> int | None:
    """The seed that triggers the crash, or None (the normal case)."""
    raw = os.environ.get(CRASH_SEED_ENV, "").strip()
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def maybe_crash(seed: int | None, step: int) -> None:
    """Exit the process at once if the test hook targets this job and it has started stepping."""
    target = crash_seed()
    if target is not None and seed == target and step >= 1:
        sys.stderr.write(f"{CRASH_SEED_ENV}: simulated crash (seed {seed}, step {step})\n")
        sys.stderr.flush()
        os._exit(CRASH_EXIT_CODE)
