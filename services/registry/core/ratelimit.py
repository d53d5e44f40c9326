"""A per-key sliding-window rate limit kept in the process (public endpoints, per client IP)."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque


class RateLimiter:
    """At most `limit` hits per `window` seconds per key. Memory is bounded: beyond `keys`
    keys the least recently seen are forgotten. Each API process counts on its own, so with N
    workers a client gets up to N times the limit; put a shared limit in the proxy for more."""

    def __init__(self, limit: int, window: float, keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self._keys = keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> int | None:
        """Count a hit; None when allowed, else the seconds until the next one would be."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = deque()
            self._hits.move_to_end(key)
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.window - now))
            hits.append(now)
            while len(self._hits) > self._keys:
                self._hits.popitem(last=False)
            return None

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
