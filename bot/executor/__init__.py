"""Executor processes: the worker loop that runs the engine, and the supervisor that spawns them.

`bot.executor.supervisor` never imports torch (it runs inside the Discord process); only
`bot.executor.worker` and `bot.executor.jobrun` load the engine.
"""
