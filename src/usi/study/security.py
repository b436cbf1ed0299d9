"""Secrets, comparisons and limits of the study server.

Tokens carry 256 bits from :mod:`secrets` (the issue asks for ≥128). Participant tokens
are stored only as SHA-256 digests, so a leaked database does not let anyone resume a
session; a lookup by digest plus :func:`hmac.compare_digest` keeps comparisons constant in
time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

TOKEN_BYTES = 32  # 256 bits
# Per-participant chat limit: a burst of this many messages, refilled at this rate.
MESSAGE_BURST = 8
MESSAGES_PER_SECOND = 0.5
# Input limits (characters) and the largest request body accepted at all (bytes).
MAX_MESSAGE_CHARS = 2000
MAX_FREE_TEXT_CHARS = 4000
MAX_ID_CHARS = 128
MAX_BODY_BYTES = 64 * 1024


def new_token() -> str:
    """An unguessable URL-safe token (256 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """What the database stores instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_secret(given: str | None, expected: str | None) -> bool:
    """Constant-time equality of two secrets; missing values never match."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def admin_csrf(admin_token: str) -> str:
    """The admin pages' CSRF token: derived from the admin token, never stored."""
    return hmac.new(admin_token.encode("utf-8"), b"usi-study-admin-csrf", "sha256").hexdigest()


def completion_code() -> str:
    """A per-session completion code when the study has no fixed one."""
    return secrets.token_hex(6).upper()


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    """Token buckets keyed by participant session; bounded memory (oldest keys dropped)."""

    burst: int = MESSAGE_BURST
    per_second: float = MESSAGES_PER_SECOND
    max_keys: int = 100_000
    _buckets: OrderedDict[int, _Bucket] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, key: int) -> bool:
        """Take one token for ``key``; False when the participant is over the limit."""
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.pop(key, None) or _Bucket(float(self.burst), now)
            bucket.tokens = min(
                float(self.burst), bucket.tokens + (now - bucket.stamp) * self.per_second
            )
            bucket.stamp = now
            allowed = bucket.tokens >= 1.0
            if allowed:
                bucket.tokens -= 1.0
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return allowed
