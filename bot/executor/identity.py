"""Who an executor process is: its session (what it dies together with) and a check that no
live process already uses its worker id.

No torch here: the supervisor (inside the Discord process) uses `SESSION_ENV`.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.store.ports import ExecutorStore

SESSION_ENV = "NST_EXECUTOR_SESSION"  # set by the supervisor for its children
BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")


def executor_session(env: dict[str, str] | None = None) -> str | None:
    """The supervisor run this executor belongs to, or for a standalone executor the host's
    boot (a reboot starts a new one); None where neither is known."""
    env = dict(os.environ) if env is None else env
    if env.get(SESSION_ENV):
        return env[SESSION_ENV][:64]
    try:
        return f"boot:{BOOT_ID_PATH.read_text().strip()}"[:64]
    except OSError:
        return None


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this id exists on this host."""
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


async def worker_id_conflict(
    store: ExecutorStore, worker_id: str, *, host: str, pid: int, stale_after_s: float
) -> str | None:
    """Why this process must not run as `worker_id` — another live executor heart-beats
    under it — or None. A row left by a dead process of this host (a restart) is fine."""
    row = next((w for w in await store.workers() if w.id == worker_id), None)
    if row is None or row.host is None:
        return None
    age = store.clock() - row.heartbeat_at
    if age > timedelta(seconds=stale_after_s):
        return None
    if row.host == host and (row.pid == pid or not pid_alive(row.pid)):
        return None
    return (
        f"worker id {worker_id!r} is already used by a live executor (host {row.host}, pid "
        f"{row.pid}, last heartbeat {age.total_seconds():.0f} s ago). Give every executor its "
        f"own --worker-id, or wait STALE_AFTER_S ({stale_after_s:g} s) if that one is gone."
    )
