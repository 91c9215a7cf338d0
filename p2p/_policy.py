"""Inbound gossip policy shared by every backend: size cap, rate limit, validator, scoring, bans.

Pure and synchronous (the clock is injected), so the memory and libp2p backends apply exactly the
same rules, in the order of rule 2 in ``_api``. Not thread-safe; call it from one Trio loop.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from p2p._api import P2PConfig, P2PStatistics, ValidationResult, Validator

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

_MAX_BUCKETS = 10_000


@dataclass(slots=True)
class Counters:
    """Mutable counters behind ``P2PStatistics``."""

    published: int = 0
    accepted: int = 0
    rejected: int = 0
    ignored: int = 0
    rate_limited: int = 0
    oversize_dropped: int = 0
    banned_dropped: int = 0
    subscription_overflows: int = 0
    forward_drops: int = 0
    disconnects_for_score: int = 0
    requests_sent: int = 0
    requests_served: int = 0
    requests_failed: int = 0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


@dataclass(slots=True)
class _Score:
    value: float
    stamp: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """The policy's decision on one inbound message, and whether to disconnect its forwarder."""

    result: ValidationResult
    disconnect: bool = False


@dataclass(slots=True)
class GossipPolicy:
    """Applies rule 2 and 3 of ``_api`` for one node."""

    config: P2PConfig
    self_id: str
    clock: Callable[[], float] = time.monotonic
    counters: Counters = field(default_factory=Counters)
    validators: dict[str, Validator] = field(default_factory=dict)
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)
    _scores: dict[str, _Score] = field(default_factory=dict)
    _bans: dict[str, float] = field(default_factory=dict)

    # -- bans and scores ---------------------------------------------------------------------

    def is_banned(self, peer: str) -> bool:
        until = self._bans.get(peer)
        if until is None:
            return False
        if self.clock() >= until:
            del self._bans[peer]
            self._scores.pop(peer, None)
            return False
        return True

    def banned_peers(self) -> list[str]:
        return sorted(p for p in list(self._bans) if self.is_banned(p))

    def score(self, peer: str) -> float:
        entry = self._scores.get(peer)
        if entry is None:
            return 0.0
        now = self.clock()
        elapsed = max(0.0, now - entry.stamp)
        entry.value *= math.pow(0.5, elapsed / self.config.score_half_life_s)
        entry.stamp = now
        return entry.value

    def _adjust(self, peer: str, delta: float) -> bool:
        """Add ``delta`` to the score; True when the peer just crossed the disconnect threshold."""
        value = min(self.config.score_max, self.score(peer) + delta)
        self._scores[peer] = _Score(value, self.clock())
        if value <= self.config.score_disconnect_threshold and not self.is_banned(peer):
            self._bans[peer] = self.clock() + self.config.ban_duration_s
            self.counters.disconnects_for_score += 1
            log.warning("peer %s scored %.2f; disconnecting and banning it", peer, value)
            return True
        return False

    # -- the inbound pipeline ----------------------------------------------------------------

    def _rate_ok(self, forwarder: str, topic: str) -> bool:
        now = self.clock()
        key = (forwarder, topic)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _MAX_BUCKETS:
                self._buckets.clear()
            bucket = self._buckets[key] = _Bucket(self.config.rate_limit_burst, now)
        bucket.tokens = min(
            self.config.rate_limit_burst,
            bucket.tokens + (now - bucket.stamp) * self.config.rate_limit_per_s,
        )
        bucket.stamp = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def check_inbound(self, forwarder: str, origin: str, topic: str, data: bytes) -> Verdict:
        """Run the inbound pipeline for one message forwarded by ``forwarder``."""
        if forwarder == self.self_id:
            return Verdict(ValidationResult.ACCEPT)  # our own publication
        if self.is_banned(forwarder) or self.is_banned(origin):
            self.counters.banned_dropped += 1
            return Verdict(ValidationResult.IGNORE)
        if len(data) > self.config.max_message_bytes:
            self.counters.oversize_dropped += 1
            self.counters.rejected += 1
            return Verdict(
                ValidationResult.REJECT, self._adjust(forwarder, -self.config.score_reject_penalty)
            )
        if not self._rate_ok(forwarder, topic):
            self.counters.rate_limited += 1
            self.counters.ignored += 1
            return Verdict(ValidationResult.IGNORE)
        result = self._run_validator(topic, origin, data)
        if result is ValidationResult.ACCEPT:
            self.counters.accepted += 1
            self._adjust(forwarder, self.config.score_accept_reward)
            return Verdict(result)
        if result is ValidationResult.REJECT:
            self.counters.rejected += 1
            return Verdict(result, self._adjust(forwarder, -self.config.score_reject_penalty))
        self.counters.ignored += 1
        return Verdict(result)

    def _run_validator(self, topic: str, origin: str, data: bytes) -> ValidationResult:
        validator = self.validators.get(topic)
        if validator is None:
            return ValidationResult.ACCEPT
        try:
            result: object = validator(origin, data)
        except Exception:  # a bug in our own validator must not penalise the peer
            log.exception("validator for topic %r raised; ignoring the message", topic)
            return ValidationResult.IGNORE
        if not isinstance(result, ValidationResult):
            log.error("validator for topic %r returned %r, not a ValidationResult", topic, result)
            return ValidationResult.IGNORE
        return result

    def snapshot(self, connected_peers: int) -> P2PStatistics:
        c = self.counters
        return P2PStatistics(
            peer_id=self.self_id,
            connected_peers=connected_peers,
            published=c.published,
            accepted=c.accepted,
            rejected=c.rejected,
            ignored=c.ignored,
            rate_limited=c.rate_limited,
            oversize_dropped=c.oversize_dropped,
            banned_dropped=c.banned_dropped,
            subscription_overflows=c.subscription_overflows,
            forward_drops=c.forward_drops,
            disconnects_for_score=c.disconnects_for_score,
            banned_peers=len(self.banned_peers()),
            requests_sent=c.requests_sent,
            requests_served=c.requests_served,
            requests_failed=c.requests_failed,
        )
