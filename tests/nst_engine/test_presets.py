"""Preset plans: levels at the preset's scales ending at the size asked, budgets kept when
levels drop, and the stall rule."""

from __future__ import annotations

import itertools

import pytest

from nst_engine.presets import MIN_LONG_SIDE, PRESETS, Preset


@pytest.mark.parametrize("name", list(PRESETS))
def test_levels_rise_at_the_presets_scales_to_the_size(name):
    preset = PRESETS[name]
    sizes, budgets = preset.plan(512)
    assert sizes[-1] == 512 and min(sizes) >= MIN_LONG_SIDE
    assert all(small < big for small, big in itertools.pairwise(sizes))
    for size, scale in zip(sizes, preset.scales, strict=True):
        assert size == pytest.approx(512 * scale, abs=0.5)
    assert budgets == list(preset.iterations)


def test_budgets_of_dropped_levels_go_to_the_coarsest_kept_level():
    preset = Preset("t", (100, 40, 20, 5), (0.25, 0.5, 0.7, 1.0))
    sizes, budgets = preset.plan(96)  # 24 and 48 px fall below the minimum
    assert sizes == [67, 96]
    assert budgets == [100 + 40 + 20, 5]
    assert sum(budgets) == sum(preset.iterations)
    sizes, budgets = preset.plan(40)  # below the minimum already: one level, every budget
    assert sizes == [40] and budgets == [165]


@pytest.mark.parametrize(
    ("iterations", "scales"),
    [((10, 5), (0.5,)), ((10, 5), (0.5, 0.9)), ((10, 5), (0.8, 0.5)), ((10, 5), (1.0, 1.0))],
)
def test_a_preset_needs_one_rising_scale_per_level_ending_at_one(iterations, scales):
    with pytest.raises(ValueError, match="one scale per level"):
        Preset("t", iterations, scales)


def test_a_level_stops_once_the_loss_stalls():
    preset = Preset("t", (50,), (1.0,), stall_window=3, stall_tol=0.01, min_iterations=4)
    falling = [100.0, 90.0, 80.0, 70.0, 60.0]
    flat = [100.0, 90.0, 89.9, 89.8, 89.7]
    assert not preset.stalled(falling, 4)
    assert preset.stalled(flat, 4)
    assert not preset.stalled(flat[:4], 3)  # before min_iterations: never
