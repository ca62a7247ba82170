"""`StyleTargetCache`: an LRU of style Gram targets that `stylize(style_cache=...)` reuses
across calls, so a second job with the same style runs no VGG pass on the style image."""

from __future__ import annotations

import threading

import pytest
import torch

from nst_engine import load_encoder, stylize
from nst_engine.encoder_cache import EncoderCache
from nst_engine.style_cache import StyleTargetCache


def grams(tag: float) -> dict[str, torch.Tensor]:
    return {"relu1_1": torch.full((2, 2), tag)}


def test_lru_counts_and_evicts_the_least_recently_used():
    cache = StyleTargetCache(max_entries=2)
    calls: list[str] = []

    def compute(key: str):
        return lambda: calls.append(key) or grams(len(calls))

    first = cache.get_or_compute("a", compute("a"))
    assert cache.get_or_compute("a", compute("a")) is first
    cache.get_or_compute("b", compute("b"))
    cache.get_or_compute("a", compute("a"))  # "a" is now the most recent
    cache.get_or_compute("c", compute("c"))  # evicts "b"
    assert calls == ["a", "b", "c"]
    assert (cache.hits, cache.misses, len(cache)) == (2, 3, 2)
    assert "a" in cache and "c" in cache and "b" not in cache
    cache.clear()
    assert (cache.hits, cache.misses, len(cache)) == (0, 0, 0)
    with pytest.raises(ValueError):
        StyleTargetCache(max_entries=0)


def test_threads_share_one_cache():
    cache = StyleTargetCache()
    results = []

    def worker() -> None:
        for i in range(50):
            results.append(cache.get_or_compute(i % 5, lambda: grams(1.0)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 200 and len(cache) == 5
    assert cache.hits + cache.misses == 200 and cache.misses >= 5


class StylePasses:
    """Counts the encoder's no-grad passes on a portrait input: with a landscape content
    image those are exactly the style-target passes (content passes are landscape, and the
    optimisation's passes run with gradients)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        _, _, h, w = args[0].shape
        if h > w and not torch.is_grad_enabled():
            self.count += 1


def test_a_second_job_with_the_same_style_computes_no_style_target(content_img, style_img2):
    assert content_img.width > content_img.height and style_img2.height > style_img2.width
    cache = StyleTargetCache()
    passes = StylePasses()
    encoders = EncoderCache()  # stylize must use the very encoder the hook is on
    hook = load_encoder("caffe", "cpu", cache=encoders).register_forward_pre_hook(passes)
    try:
        options = {
            "size": 64,
            "preset": "fast",
            "device": "cpu",
            "style_cache": cache,
            "encoders": encoders,
        }
        stylize(content_img, [style_img2], seed=1, **options)
        first = passes.count
        assert first > 0 and cache.misses == first and len(cache) == first
        hits = cache.hits
        # Another photo in the same style: every target comes from the cache.
        other = content_img.rotate(180)
        stylize(other, [style_img2], seed=2, **options)
        assert passes.count == first
        assert cache.misses == first and cache.hits > hits
        # A different style size is a different target: computed once more.
        stylize(content_img, [style_img2], seed=1, **{**options, "size": 80})
        assert passes.count > first
    finally:
        hook.remove()
