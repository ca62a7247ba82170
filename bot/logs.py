"""Logging helpers shared by the bot and executor processes (imports neither discord nor torch)."""

from __future__ import annotations

import logging

# At DEBUG these log every statement's parameters: image bytes, interaction tokens, and
# sometimes the connection string.
DATABASE_LOGGERS = ("aiosqlite", "sqlalchemy", "asyncpg", "psycopg", "alembic")


def quiet_database_loggers() -> None:
    """Keep the database drivers' loggers at WARNING whatever the process's level."""
    for name in DATABASE_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
