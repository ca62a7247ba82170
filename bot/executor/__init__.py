"""Executor processes: the worker loop that runs the engine, and the supervisor that spawns them.

`worker` (claim loop, heartbeats) → `running` (one job on the loop) → `jobrun` (the engine call
in a thread). `bot.executor.supervisor` and `bot.executor.stale` never import torch (they run
inside the Discord process); the engine is loaded by `worker` (warm-up) and `jobrun`.
"""
