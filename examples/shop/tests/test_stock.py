"""Stock levels and reservations across warehouses."""

import pytest
from django.db import IntegrityError

from inventory import services
from inventory.models import StockLevel

pytestmark = pytest.mark.django_db


def test_available_without_stock(make_product):
    assert services.available(make_product()) == 0


def test_available_sums_warehouses(make_product, stock):
    product = make_product()
    stock(product, 5)
    stock(product, 7)
    assert services.available(product) == 12


def test_available_subtracts_reservations(make_product, stock):
    product = make_product()
    level = stock(product, 10)
    StockLevel.objects.filter(pk=level.pk).update(reserved=4)
    assert services.available(product) == 6


def test_reserve_takes_from_one_warehouse(make_product, stock):
    product = make_product()
    level = stock(product, 10)
    assert services.reserve(product, 3) == [(level.warehouse.code, 3)]


def test_reserve_spans_warehouses(make_product, stock, make_warehouse):
    product = make_product()
    stock(product, 2, make_warehouse("AAA"))
    stock(product, 5, make_warehouse("BBB"))
    assert services.reserve(product, 6) == [("BBB", 5), ("AAA", 1)]


def test_reserve_prefers_the_destination_country(make_product, stock, make_warehouse):
    product = make_product()
    stock(product, 50, make_warehouse("DE1", "DE"))
    stock(product, 5, make_warehouse("FR1", "FR"))
    assert services.reserve(product, 3, prefer_country="FR") == [("FR1", 3)]


def test_reserve_too_much_raises(make_product, stock):
    product = make_product()
    stock(product, 2)
    with pytest.raises(services.OutOfStock) as raised:
        services.reserve(product, 3)
    assert (raised.value.wanted, raised.value.available) == (3, 2)


def test_out_of_stock_message_names_the_sku(make_product):
    product = make_product(sku="OOS-1")
    with pytest.raises(services.OutOfStock, match="OOS-1: wanted 1, 0 available"):
        services.reserve(product, 1)


@pytest.mark.parametrize("quantity", [0, -5])
def test_reserve_needs_a_positive_quantity(make_product, quantity):
    with pytest.raises(ValueError):
        services.reserve(make_product(), quantity)


def test_release_gives_back(make_product, stock):
    product = make_product()
    stock(product, 10)
    taken = services.reserve(product, 8)
    services.release(product, taken)
    assert services.available(product) == 10


def test_ship_deducts_stock(make_product, stock):
    product = make_product()
    level = stock(product, 10)
    services.ship(product, services.reserve(product, 4))
    level.refresh_from_db()
    assert (level.quantity, level.reserved) == (6, 0)


def test_reserved_cannot_exceed_quantity(make_product, stock):
    level = stock(make_product(), 1)
    with pytest.raises(IntegrityError):
        StockLevel.objects.filter(pk=level.pk).update(reserved=2)


def test_one_level_per_product_and_warehouse(make_product, stock, make_warehouse):
    product, warehouse = make_product(), make_warehouse()
    stock(product, 1, warehouse)
    with pytest.raises(IntegrityError):
        stock(product, 1, warehouse)


def test_level_available_property(make_product, stock):
    level = stock(make_product(), 9)
    level.reserved = 4
    assert level.available == 5


def test_warehouse_str(make_warehouse):
    assert str(make_warehouse("STR")) == "STR"


@pytest.mark.parametrize("levels,wanted", [([5], 5), ([1, 1, 1], 3), ([10, 0, 3], 12), ([4, 4], 1)])
def test_reserve_exactly_what_exists(make_product, stock, levels, wanted):
    product = make_product()
    for quantity in levels:
        stock(product, quantity)
    assert sum(n for _, n in services.reserve(product, wanted)) == wanted


def test_successive_reservations_drain_stock(make_product, stock):
    product = make_product()
    stock(product, 5)
    for _ in range(5):
        services.reserve(product, 1)
    with pytest.raises(services.OutOfStock):
        services.reserve(product, 1)


def test_reservation_ties_break_by_warehouse_code(make_product, stock, make_warehouse):
    product = make_product()
    stock(product, 5, make_warehouse("ZZZ"))
    stock(product, 5, make_warehouse("MMM"))
    assert services.reserve(product, 2) == [("MMM", 2)]


def test_products_have_independent_stock(make_product, stock):
    first, second = make_product(), make_product()
    stock(first, 3)
    stock(second, 4)
    services.reserve(first, 3)
    assert services.available(second) == 4


@pytest.mark.slow
def test_many_small_reservations(make_product, stock, make_warehouse):
    product = make_product()
    for i in range(8):
        stock(product, 250, make_warehouse(f"W{i:02d}X"))
    for _ in range(1000):
        services.reserve(product, 2)
    assert services.available(product) == 0
