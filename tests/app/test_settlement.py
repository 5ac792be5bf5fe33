"""The disposition rules (lambda_fn/settlement.py), table-driven."""

from __future__ import annotations

import pytest

from lambda_fn.records import Trade
from lambda_fn.settlement import (
    COMPLETED,
    FLAGGED,
    LARGE_TRADE,
    NO_USER,
    PENDING,
    REJECTED,
    REVIEW,
    UNKNOWN_USER,
    WITHIN_LIMIT,
    Rules,
    decide,
    review_draw,
)


def t(user="User_1", regionid="Region_1", quantity=10, price=500, symbol="ZVV") -> Trade:
    return Trade(user, regionid, quantity, price, symbol, "ABC123", "BUY")


RULES = Rules(large_trade_cents=25_000_00, review_share=0.30)

CASES = [
    # (trade, draw, disposition, reason, amount in dollars)
    (t(user=None), 0.9, REJECTED, NO_USER, 50.0),
    (t(user=""), 0.9, REJECTED, NO_USER, 50.0),
    (t(user=None, quantity=5000, price=999), 0.0, REJECTED, NO_USER, 49950.0),  # first match wins
    (t(regionid=None), 0.9, REJECTED, UNKNOWN_USER, 50.0),
    (t(quantity=5000, price=999), 0.9, PENDING, LARGE_TRADE, 49950.0),
    (t(quantity=5000, price=500), 0.9, COMPLETED, WITHIN_LIMIT, 25000.0),  # not > threshold
    (t(quantity=5000, price=501), 0.9, PENDING, LARGE_TRADE, 25050.0),
    (t(quantity=5000, price=999), 0.0, PENDING, LARGE_TRADE, 49950.0),  # pending before review
    (t(), 0.0, FLAGGED, REVIEW, 50.0),
    (t(), 0.2999, FLAGGED, REVIEW, 50.0),
    (t(), 0.30, COMPLETED, WITHIN_LIMIT, 50.0),
    (t(quantity=3, price=7), 0.99, COMPLETED, WITHIN_LIMIT, 0.21),  # integer cents: exact
]


@pytest.mark.parametrize(("trade", "draw", "disposition", "reason", "amount"), CASES)
def test_rules(trade, draw, disposition, reason, amount):
    d = decide(trade, draw, RULES)
    assert (d.disposition, d.reason, d.amount) == (disposition, reason, amount)


def test_settings_change_the_rules():
    assert decide(t(quantity=100, price=500), 0.9, Rules(large_trade_cents=40_000)).disposition == (
        PENDING
    )
    assert decide(t(), 0.99, Rules(review_share=1.0)).disposition == FLAGGED
    assert decide(t(), 0.0, Rules(review_share=0.0)).disposition == COMPLETED
    with pytest.raises(ValueError, match="review_share"):
        Rules(review_share=1.5)


def test_review_draw_is_fixed_by_position_and_about_the_share():
    assert review_draw("user_trades", 2, 41) == review_draw("user_trades", 2, 41)
    draws = [review_draw("user_trades", p, o) for p in range(6) for o in range(2000)]
    assert all(0.0 <= d < 1.0 for d in draws)
    share = sum(d < 0.30 for d in draws) / len(draws)
    assert 0.28 < share < 0.32


def test_disposition_mix_on_datagen_ranges_is_not_mostly_pending():
    """The reference's pitfall: price in pennies read as dollars made ~90 % Pending."""
    from streamlab.datagen.datasets import generate

    trades = [
        Trade("User_1", "Region_1", v["quantity"], v["price"], v["symbol"], None, None)
        for _, v in generate("stock_trades", seed=0, count=3000)
    ]
    pending = sum(decide(x, 0.9, RULES).disposition == PENDING for x in trades) / len(trades)
    assert 0.08 < pending < 0.25
