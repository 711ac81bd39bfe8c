"""Prices in integer cents: tiers, coupons, rounding, formatting."""

import pytest

from catalog import pricing


@pytest.mark.parametrize(
    "cents,percent,expected",
    [(1000, 10, 100), (999, 10, 100), (994, 10, 99), (1, 50, 1), (0, 25, 0), (12345, 0, 0), (12345, 100, 12345)],
)
def test_percent_of_rounds_half_up(cents, percent, expected):
    assert pricing.percent_of(cents, percent) == expected


@pytest.mark.parametrize("quantity,percent", [(1, 0), (9, 0), (10, 5), (49, 5), (50, 10), (99, 10), (100, 15), (1000, 15)])
def test_tier_discount(quantity, percent):
    assert pricing.tier_discount(quantity) == percent


@pytest.mark.parametrize("unit,quantity,expected", [(1000, 1, 1000), (1000, 10, 9500), (199, 50, 8955), (100, 100, 8500)])
def test_line_price(unit, quantity, expected):
    assert pricing.line_price(unit, quantity) == expected


@pytest.mark.parametrize("quantity", [0, -1])
def test_line_price_needs_a_positive_quantity(quantity):
    with pytest.raises(ValueError):
        pricing.line_price(100, quantity)


@pytest.mark.parametrize(
    "code,percent,cents",
    [("SAVE10", 10, 0), ("save25", 25, 0), (" SAVE5 ", 5, 0), ("OFF500", 0, 500), ("off1", 0, 1)],
)
def test_parse_coupon(code, percent, cents):
    coupon = pricing.parse_coupon(code)
    assert (coupon.percent_off, coupon.cents_off) == (percent, cents)


@pytest.mark.parametrize("code", ["FREE", "SAVE", "SAVEten", "OFF-5", "", "SAVE101"])
def test_parse_bad_coupon(code):
    with pytest.raises(pricing.InvalidCoupon):
        pricing.parse_coupon(code)


def test_apply_percent_coupon():
    assert pricing.apply_coupon(10000, pricing.Coupon("SAVE15", percent_off=15)) == 8500


def test_apply_cents_coupon_never_goes_negative():
    assert pricing.apply_coupon(300, pricing.Coupon("OFF500", cents_off=500)) == 0


def test_coupon_minimum():
    with pytest.raises(pricing.InvalidCoupon, match="subtotal"):
        pricing.apply_coupon(999, pricing.Coupon("BIG", percent_off=5, minimum_cents=1000))


def test_no_coupon():
    assert pricing.apply_coupon(1234, None) == 1234


@pytest.mark.parametrize("cents,text", [(0, "0.00 EUR"), (5, "0.05 EUR"), (123456, "1,234.56 EUR"), (-250, "-2.50 EUR")])
def test_format_cents(cents, text):
    assert pricing.format_cents(cents) == text


def test_format_other_currency():
    assert pricing.format_cents(100, "USD") == "1.00 USD"


@pytest.mark.slow
def test_line_price_never_exceeds_gross_for_any_quantity():
    for unit in range(1, 400):
        for quantity in range(1, 150):
            price = pricing.line_price(unit, quantity)
            assert 0 < price <= unit * quantity
