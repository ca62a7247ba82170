"""Executor processes: the worker loop that runs the engine, and the supervisor that spawns them.

`worker` (claim loop, heartbeats) → `job_run` (`JobRun`: one claimed job on the loop) →
`engine_call` (`run_job`: the engine call in a thread). The store is reached only through
`bot.store.ports.ExecutorStore`. `bot.executor.supervisor` and `bot.executor.stale` never import
torch (they run inside the Discord process); the engine is loaded by `worker` (warm-up) and
`engine_call`.
"""
