"""Preset plans: levels √2 apart ending at the size asked, budgets kept when levels drop."""

from __future__ import annotations

import itertools
import math

import pytest

from nst_engine.presets import MIN_LONG_SIDE, PRESETS, Preset


@pytest.mark.parametrize("name", list(PRESETS))
def test_levels_are_sqrt2_apart_and_end_at_the_size(name):
    sizes, budgets = PRESETS[name].plan(512)
    assert sizes[-1] == 512 and min(sizes) >= MIN_LONG_SIDE
    for small, big in itertools.pairwise(sizes):
        assert big / small == pytest.approx(math.sqrt(2), rel=0.02)
    assert len(budgets) == len(sizes) and all(b > 0 for b in budgets)


def test_budgets_of_dropped_levels_go_to_the_coarsest_kept_level():
    preset = Preset("t", (100, 40, 20, 5))
    sizes, budgets = preset.plan(96)  # 34 and 48 px fall below the minimum
    assert sizes == [68, 96]
    assert budgets == [100 + 40 + 20, 5]
    assert sum(budgets) == sum(preset.iterations)
    sizes, budgets = preset.plan(40)  # below the minimum already: one level, every budget
    assert sizes == [40] and budgets == [165]


def test_a_level_stops_once_the_loss_stalls():
    preset = Preset("t", (50,), stall_window=3, stall_tol=0.01, min_iterations=4)
    falling = [100.0, 90.0, 80.0, 70.0, 60.0]
    flat = [100.0, 90.0, 89.9, 89.8, 89.7]
    assert not preset.stalled(falling, 4)
    assert preset.stalled(flat, 4)
    assert not preset.stalled(flat[:4], 3)  # before min_iterations: never
