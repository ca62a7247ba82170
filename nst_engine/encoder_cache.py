"""`EncoderCache`: VGG19 encoders kept by their owner across `stylize` calls.

Loading an encoder reads ~550 MB of weights and moves them to the device; an executor that
runs job after job keeps one `EncoderCache` for its life and passes it to every call
(`stylize(encoders=...)`), so the weights load once. Nothing here is a module global: a call
without a cache loads its own encoder (a CLI run, a test).

Torch is not imported here (encoders are opaque to the cache), so the executor's job code can
create one without loading the engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nst_engine.vgg import VGGEncoder


class EncoderCache:
    """Thread-safe map of encoders by (source, device, last layer, pooling)."""

    def __init__(self) -> None:
        self._items: dict[Hashable, VGGEncoder] = {}
        self._lock = threading.Lock()
        self.loads = 0  # how many times an encoder was built

    def get_or_load(self, key: Hashable, load: Callable[[], VGGEncoder]) -> VGGEncoder:
        """The encoder for `key`, else `load()`'s (kept). Loads under the lock: two threads
        asking at once must not read the weights twice."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                found = self._items[key] = load()
                self.loads += 1
            return found

    def __len__(self) -> int:
        return len(self._items)
