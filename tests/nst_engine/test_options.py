"""`StylizeOptions`: validated once, frozen, defaults and ranges from `nst_engine.params`."""

from __future__ import annotations

import dataclasses

import pytest

from nst_engine import params
from nst_engine.options import MIN_SIZE, StylizeOptions


def test_defaults_come_from_the_job_parameter_definitions():
    opts = StylizeOptions()
    for param in params.JOB_PARAMS:
        assert getattr(opts, param.name) == param.default, param.name


def test_options_are_frozen_and_copies_are_validated_again():
    opts = StylizeOptions(size=256)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.size = 128  # type: ignore[misc]
    assert opts.with_fields(preset="fast").preset == "fast"
    with pytest.raises(ValueError, match="style_strength"):
        opts.with_fields(style_strength=0.0)
    with pytest.raises(TypeError):
        opts.with_fields(sise=128)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"style_strength": 11}, "style_strength"),
        ({"preset": "ultra"}, "preset"),
        ({"init": "style"}, "init"),
        ({"size": MIN_SIZE - 1}, "size"),
        ({"style_scale": 5}, "style_scale"),
        ({"optimizer": "sgd"}, "optimizer"),
        ({"preview_every": -1}, "preview_every"),
        ({"preview_interval_s": -1.0}, "preview_interval_s"),
        ({"tv_weight": float("nan")}, "tv_weight"),
        ({"precision": "half"}, "precision"),
    ],
)
def test_each_bad_field_is_refused_by_name(fields, words):
    with pytest.raises(ValueError, match=words):
        StylizeOptions(**fields)


def test_the_engine_renders_below_the_jobs_minimum_size():
    assert StylizeOptions(size=MIN_SIZE).size == MIN_SIZE < params.MIN_SIZE


@pytest.mark.parametrize(("given", "stored"), [(True, "bf16"), ("false", "fp32"), ("AUTO", "auto")])
def test_precision_is_stored_normalised(given, stored):
    assert StylizeOptions(precision=given).precision == stored
