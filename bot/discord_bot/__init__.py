"""The Discord process: slash commands, persistent buttons, progress and delivery.

Never imports torch: images are validated with `nst_engine.images` (Pillow only) and the
engine runs in separate executor processes that share the job store.
"""

from bot.discord_bot.client import NSTBot, apply_endpoints, restore_endpoints

__all__ = ["NSTBot", "apply_endpoints", "restore_endpoints"]
