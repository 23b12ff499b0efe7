"""
Pool limits (pure): the app's connections at full load must fit the plan's connection limit.

    pool size × web dynos + reserve (migrations, heroku pg:psql, this tool) ≤ connection limit
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PoolCheck:
    pool: int
    web_dynos: int
    reserve: int
    limit: int

    @property
    def needed(self) -> int:
        return self.pool * self.web_dynos + self.reserve

    @property
    def fits(self) -> bool:
        return self.needed <= self.limit

    @property
    def largest_pool(self) -> int:
        """The largest pool size that fits with these dynos (0 when even the reserve does not fit)."""
        if self.web_dynos == 0:
            return self.pool
        return max(0, (self.limit - self.reserve) // self.web_dynos)

    def describe(self, var: str) -> str:
        return (
            f"{var} {self.pool} × {self.web_dynos} web dyno(s) + {self.reserve} reserved = "
            f"{self.needed} {'≤' if self.fits else '>'} {self.limit} connections"
        )


def parse_pool_size(raw: str | None) -> int | None:
    """A config var's pool size, or None when it is unset or not a whole number."""
    if raw is None or not raw.strip().isdigit():
        return None
    return int(raw.strip())
