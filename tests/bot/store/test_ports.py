"""`bot.store.ports`: each process's Protocol names only what `Store` offers, with the same
parameters, so code typed against a Protocol runs against the real store (mypy checks the
types in `bot.store.store._views`; this checks names, kinds and defaults at run time)."""

from __future__ import annotations

import inspect

import pytest

from bot.store import Store
from bot.store.ports import BotStore, ExecutorStore


def _members(protocol: type) -> list[str]:
    own = set(vars(protocol)) | set(getattr(protocol, "__annotations__", {}))
    return sorted(n for n in own if not n.startswith("_"))


@pytest.mark.parametrize("protocol", [ExecutorStore, BotStore], ids=lambda p: p.__name__)
def test_every_protocol_method_is_the_stores_with_the_same_parameters(protocol: type) -> None:
    methods = [n for n in _members(protocol) if callable(vars(protocol).get(n))]
    assert "close" in methods and len(methods) >= 12
    for name in methods:
        wanted = inspect.signature(getattr(protocol, name)).parameters
        offered = inspect.signature(getattr(Store, name)).parameters
        for param in wanted.values():
            assert param.name in offered, f"Store.{name} has no parameter {param.name!r}"
            got = offered[param.name]
            assert (got.kind, got.default) == (param.kind, param.default), f"Store.{name}"
        extra = [p for n, p in offered.items() if n not in wanted]
        # Parameters the Protocol leaves out must be optional, or its callers could not call.
        assert all(p.default is not inspect.Parameter.empty for p in extra), f"Store.{name}"
        assert inspect.iscoroutinefunction(getattr(Store, name)) == inspect.iscoroutinefunction(
            getattr(protocol, name)
        ), f"Store.{name}: async in one, not the other"


async def test_the_executor_views_clock_is_the_stores(store: Store) -> None:
    assert "clock" in inspect.get_annotations(ExecutorStore)
    now = store.clock()  # what `worker_id_conflict` compares heartbeats with
    assert now.utcoffset() is not None and now.utcoffset().total_seconds() == 0
