"""When to try a failed cleanup again: a small pure object, testable without a database."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: base * factor^(attempt-1), capped, then scaled by ±jitter.

    Jitter spreads retries of a batch that failed together, so they don't hit Cloudinary in one burst.
    """

    base_seconds: float = 30.0
    factor: float = 2.0
    max_seconds: float = 3600.0
    jitter: float = 0.25
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        raw = min(self.max_seconds, self.base_seconds * self.factor ** max(0, attempt - 1))
        spread = raw * self.jitter
        return max(0.0, raw + self.rng.uniform(-spread, spread))
