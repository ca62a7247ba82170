"""The bot's command groups, added in `NSTBot.setup_hook`."""

from bot.discord_bot.cogs.admin import AdminCog
from bot.discord_bot.cogs.info import InfoCog
from bot.discord_bot.cogs.prefs import PrefsCog
from bot.discord_bot.cogs.styles import StylesCog
from bot.discord_bot.cogs.stylize import StylizeCog

COGS = (StylizeCog, InfoCog, PrefsCog, AdminCog, StylesCog)

__all__ = ["COGS", "AdminCog", "InfoCog", "PrefsCog", "StylesCog", "StylizeCog"]
