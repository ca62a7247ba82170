"""`StyleTargetCache`: style Gram targets kept across `stylize` calls (jobs), bounded LRU.

A style's Gram targets depend only on the style image, its working size, the layers, the
encoder and the device (plus the content's colours when colours are preserved), so an
executor that paints many photos in the same style — the bundled style library — computes
them once. The cache is an object its owner passes to `stylize(style_cache=...)`: each
executor process keeps one for its lifetime; nothing here is a module global.

Torch is not imported here (values are opaque to the cache), so the executor's job code can
create one without loading the engine.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# Gram matrices of the five style layers at any size: 64²+128²+256²+2·512² floats ≈ 2.3 MB
# in fp32, so 32 entries (a few styles × pyramid levels) stay under ~80 MB.
DEFAULT_MAX_ENTRIES = 32

Grams = Mapping[str, "torch.Tensor"]


class StyleTargetCache:
    """Thread-safe LRU of style Gram targets: `get_or_compute(key, compute)`.

    `key` must name everything the targets depend on (see `nst_engine.transfer`); `hits`,
    `misses` (= how many times `compute` ran) and `len()` let callers and tests see it work.
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, Grams] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], Grams]) -> Grams:
        """The cached targets for `key`, else `compute()`'s (stored, evicting the oldest)."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        # Computed outside the lock: a VGG pass takes long, and two threads computing the same
        # key at once only waste work (the second result replaces the first, equal, one).
        value = compute()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        """Drop every entry and reset the counters."""
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items
