"""Shipping zones, rates and parcel packing."""

import pytest
from django.test import override_settings

from orders import shipping


@pytest.mark.parametrize("country,zone", [("DE", "home"), ("FR", "eu"), ("SE", "eu"), ("US", "world"), ("CH", "world"), ("JP", "world")])
def test_zone_for(country, zone):
    assert shipping.zone_for(country) == zone


@pytest.mark.parametrize(
    "country,grams,cents",
    [
        ("DE", 0, 490),
        ("DE", 1000, 490),
        ("DE", 1001, 690),
        ("DE", 10000, 990),
        ("DE", 10001, 1090),
        ("DE", 12500, 1290),
        ("FR", 500, 990),
        ("FR", 4999, 1490),
        ("FR", 11000, 2190),
        ("US", 200, 1990),
        ("US", 9000, 4990),
        ("US", 15000, 7490),
    ],
)
def test_cost(country, grams, cents):
    assert shipping.cost(country, grams) == cents


def test_free_shipping_at_home_above_threshold():
    assert shipping.cost("DE", 3000, subtotal_cents=5000) == 0


def test_no_free_shipping_just_below_threshold():
    assert shipping.cost("DE", 3000, subtotal_cents=4999) == 690


def test_no_free_shipping_abroad():
    assert shipping.cost("FR", 3000, subtotal_cents=100_000) == 1490


@override_settings(FREE_SHIPPING_CENTS=100)
def test_threshold_comes_from_settings():
    assert shipping.cost("DE", 500, subtotal_cents=100) == 0


def test_negative_weight_is_an_error():
    with pytest.raises(ValueError):
        shipping.cost("DE", -1)


def test_parcels_first_fit_heaviest_first():
    assert shipping.parcels([5000, 15000, 6000, 4000], limit_grams=20000) == [[15000, 5000], [6000, 4000]]


def test_parcels_of_nothing():
    assert shipping.parcels([]) == []


def test_item_over_the_limit_is_refused():
    with pytest.raises(ValueError, match="exceeds"):
        shipping.parcels([25000])


@pytest.mark.parametrize("n", [1, 7, 40])
def test_parcels_keep_every_item(n):
    weights = [1000 + 137 * i for i in range(n)]
    boxes = shipping.parcels(weights)
    assert sorted(w for box in boxes for w in box) == sorted(weights)
    assert all(sum(box) <= 20000 for box in boxes)


@pytest.mark.slow
def test_packing_a_warehouse_day():
    weights = [(i * 7919) % 9000 + 100 for i in range(4000)]
    boxes = shipping.parcels(weights)
    assert sum(len(box) for box in boxes) == 4000
    # First fit decreasing needs at most 11/9 of the optimum, plus one.
    assert len(boxes) <= 11 * (sum(weights) // 20000 + 1) // 9 + 1


@pytest.mark.slow
def test_rate_table_is_monotonic_in_weight():
    for country in ("DE", "FR", "US"):
        costs = [shipping.cost(country, grams) for grams in range(0, 60_000, 5)]
        assert costs == sorted(costs)
