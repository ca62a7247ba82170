"""Apply Alembic migrations programmatically (no alembic.ini needed in the working dir)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

import migrations
from bot.store.db import ensure_sqlite_dir, sqlite_path

SCRIPT_LOCATION = Path(migrations.__file__).resolve().parent


def sync_url(url: str) -> str:
    """The synchronous-driver form of a store URL, for Alembic."""
    u = make_url(url)
    if u.drivername.startswith("sqlite"):
        u = u.set(drivername="sqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+asyncpg", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def alembic_config(url: str) -> Config:
    """An Alembic Config pointing at the `migrations` package and this database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    # ConfigParser interpolation would choke on '%' in URL-encoded passwords.
    cfg.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade (or, for a revision below the current one, downgrade) the schema."""
    ensure_sqlite_dir(url)
    cfg = alembic_config(url)
    if revision == "base" or revision.startswith("-"):
        command.downgrade(cfg, revision)
        return
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    script = ScriptDirectory.from_config(cfg)
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    target = script.get_revision(revision)
    if current is not None and target is not None and current != target.revision:
        ancestors = {r.revision for r in script.iterate_revisions(current, "base")}
        if target.revision in ancestors:
            command.downgrade(cfg, revision)
            return
    command.upgrade(cfg, revision)


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest revision in the `migrations` package."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(SCRIPT_LOCATION)).get_current_head()


def current_revision(url: str) -> str | None:
    """The revision the database is at (None when unmigrated or not created yet)."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return None
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
