"""A token bucket: how often something may happen, with a burst saved up."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; starts full."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self._clock = clock
        self.t = clock()

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(self.burst, self.tokens + (now - self.t) * self.rate)
        self.t = now

    def take(self, n: float = 1.0) -> bool:
        """Spend ``n`` tokens if there are that many; False (nothing spent) otherwise."""
        self._refill()
        if self.tokens < n:
            return False
        self.tokens -= n
        return True

    def wait_s(self, n: float = 1.0) -> float:
        """Seconds until ``n`` tokens are there (0 when they are now)."""
        self._refill()
        return max(0.0, (n - self.tokens) / self.rate) if self.rate > 0 else float("inf")
