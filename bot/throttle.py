"""Request budgets per web session and per client address, kept in this process's memory."""

from __future__ import annotations

import math
import time
from ipaddress import IPv6Address, ip_address

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from bot.settings import Settings


def address_key(host: str | None) -> str:
    """The budget key of a client address: an IPv6 client is counted by its /64, which one device owns."""
    try:
        ip = ip_address(host or "")
    except ValueError:
        return host or "?"
    if isinstance(ip, IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return f"{int(ip) >> 64:x}::/64"
    return str(ip)


class Throttle:
    """Named actions, each with a budget per session and one per address (either may be absent)."""

    def __init__(self, rules: dict[str, tuple[str, str]]) -> None:
        # In memory: every process keeps its own counts (several processes each grant the full budget).
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._rules: dict[str, tuple[list[RateLimitItem], list[RateLimitItem]]] = {
            action: (parse_many(per_session) if per_session else [], parse_many(per_ip) if per_ip else [])
            for action, (per_session, per_ip) in rules.items()
        }

    def take(self, action: str, session: str | None, address: str | None) -> int | None:
        """Spend one request of `action`: None when allowed, else the whole seconds until it would be."""
        per_session, per_ip = self._rules.get(action, ([], []))
        checks = [(item, f"s:{session}") for item in per_session if session]
        checks += [(item, f"a:{address_key(address)}") for item in per_ip]
        full = [(item, key) for item, key in checks if not self._limiter.test(item, action, key)]
        if full:
            now = time.time()
            resets = [self._limiter.get_window_stats(item, action, key).reset_time for item, key in full]
            return max(1, math.ceil(max(resets) - now))
        for item, key in checks:
            self._limiter.hit(item, action, key)
        return None


def web_throttle(settings: Settings) -> Throttle:
    """The web chat's budgets from the settings."""
    return Throttle(
        {
            "send": (settings.web_rate_send, settings.web_rate_send_ip),
            "photo": (settings.web_rate_photo, settings.web_rate_photo_ip),
            "read": (settings.web_rate_read, settings.web_rate_read_ip),
            "session": ("", settings.web_rate_new_session_ip),
        }
    )
