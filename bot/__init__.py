"""nst-bot: neural style transfer served as a Discord bot.

Subpackages: ``bot.store`` (job database, no torch/discord), ``bot.executor`` (GPU worker,
imports torch through ``nst_engine``), ``bot.discord_bot`` (the Discord process, never
imports torch).
"""
