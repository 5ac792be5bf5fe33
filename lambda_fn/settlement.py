"""The disposition rules: a pure function of a trade, a review draw and the rules' settings.

They follow the reference application (research/reference-app.md §4), checked in order, first
match wins: Rejected without a user; Pending for a large trade; a share of the rest flagged for
review ("SEC Flagged"); otherwise Completed. Its pitfalls, and what this version does instead:

1. **Price is in pennies.** The STOCK_TRADES quickstart documents ``price`` as "trade price in
   pennies"; the reference multiplied quantity by price as if dollars and compared with 100000,
   so about 90 % of all trades came out Pending. Here the amount is in dollars (cents / 100), the
   arithmetic is done in integer cents (no float rounding at the threshold), and the threshold is
   a setting (default $25,000, about 15 % of datagen trades).
2. **Rejected was unreachable.** Every ``user_trades`` record has a key, so "no user" never
   happened. The LEFT JOIN exists precisely to keep trades of users missing from USERS (REGIONID
   NULL); such a trade is Rejected too ("Unknown user account").
3. **The review draw was random.** ``Random.nextInt(100) < 30`` gives a retried batch (Lambda
   retries whole batches) different dispositions the second time. Here the draw is a hash of the
   record's position (topic, partition, offset), so a retry settles every trade exactly as
   before: duplicates are identical, and tests are reproducible. The share is a setting.
4. **Processing time as event time.** The reference stamped each settlement with the time the
   function ran, which drives the windows of TRADE_SETTLEMENT. Here the settlement carries the
   trade's own timestamp (the ``user_trades`` record's), so a retry or a backlog does not move a
   trade into another minute.
5. The disposition strings stay the reference's (``SEC Flagged`` included), and the SQL matches
   them exactly rather than with ``LIKE '%SEC%'``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from lambda_fn.records import Trade

REJECTED, PENDING, FLAGGED, COMPLETED = "Rejected", "Pending", "SEC Flagged", "Completed"
DISPOSITIONS = (COMPLETED, PENDING, FLAGGED, REJECTED)

NO_USER = "No user account specified"
UNKNOWN_USER = "Unknown user account"
LARGE_TRADE = "Large trade"
REVIEW = "This trade looks sus"
WITHIN_LIMIT = "Within same day limit"


@dataclass(frozen=True)
class Rules:
    """The settings of the rules.

    Attributes:
        large_trade_cents: a trade worth more than this (strictly) is Pending.
        review_share: the share of the remaining trades flagged for review, 0..1.
    """

    large_trade_cents: int = 25_000_00
    review_share: float = 0.30

    def __post_init__(self) -> None:
        if not 0.0 <= self.review_share <= 1.0:
            raise ValueError(f"review_share must be between 0 and 1, got {self.review_share}")
        if self.large_trade_cents < 0:
            raise ValueError(f"large_trade_cents must not be negative: {self.large_trade_cents}")


@dataclass(frozen=True)
class Decision:
    disposition: str
    reason: str
    amount: float  # dollars


def amount_cents(trade: Trade) -> int:
    """quantity x price, with price in pennies as the quickstart documents it."""
    return trade.quantity * trade.price


def review_draw(topic: str, partition: int, offset: int) -> float:
    """A number in [0, 1) fixed by the record's position: the same record always draws the same.

    >>> review_draw("user_trades", 0, 7) == review_draw("user_trades", 0, 7)
    True
    """
    digest = hashlib.sha256(f"{topic}-{partition}@{offset}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def decide(trade: Trade, draw: float, rules: Rules = Rules()) -> Decision:
    """The disposition of one trade. ``draw`` in [0, 1) decides the review (see review_draw)."""
    cents = amount_cents(trade)
    amount = cents / 100
    if not trade.user:
        return Decision(REJECTED, NO_USER, amount)
    if trade.regionid is None:
        return Decision(REJECTED, UNKNOWN_USER, amount)
    if cents > rules.large_trade_cents:
        return Decision(PENDING, LARGE_TRADE, amount)
    if draw < rules.review_share:
        return Decision(FLAGGED, REVIEW, amount)
    return Decision(COMPLETED, WITHIN_LIMIT, amount)
