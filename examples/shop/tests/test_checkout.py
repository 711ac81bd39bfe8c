"""Checkout: quotes, placing orders, stock reservations, cancellation."""

import pytest

from catalog.pricing import InvalidCoupon
from inventory import services as inventory
from orders import services
from orders.models import Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(make_customer):
    return make_customer(country="DE")


def test_quote_empty_basket_is_an_error():
    with pytest.raises(services.CheckoutError, match="empty"):
        services.quote([], "DE")


def test_quote_single_line(stocked_product):
    product = stocked_product(price_cents=1000)
    quote = services.quote([(product, 2)], "DE")
    assert (quote["subtotal"], quote["shipping"]) == (2000, 490)
    assert quote["tax"] == (2490 * 19 + 50) // 100


def test_quote_free_shipping_at_home_above_threshold(stocked_product):
    product = stocked_product(price_cents=6000)
    assert services.quote([(product, 1)], "DE")["shipping"] == 0


def test_quote_never_free_shipping_abroad(stocked_product):
    product = stocked_product(price_cents=6000)
    assert services.quote([(product, 1)], "FR")["shipping"] == 990


def test_quote_with_coupon(stocked_product):
    product = stocked_product(price_cents=10000)
    assert services.quote([(product, 1)], "US", "OFF1000")["subtotal"] == 9000


def test_quote_with_bad_coupon(stocked_product):
    with pytest.raises(InvalidCoupon):
        services.quote([(stocked_product(), 1)], "DE", "BOGUS")


def test_quote_applies_quantity_tiers(stocked_product):
    product = stocked_product(price_cents=100)
    assert services.quote([(product, 50)], "US")["subtotal"] == 4500


def test_quote_is_total_of_parts(stocked_product):
    quote = services.quote([(stocked_product(price_cents=777), 3), (stocked_product(price_cents=1999), 1)], "IT")
    assert quote["total"] == quote["subtotal"] + quote["shipping"] + quote["tax"]


def test_place_order_saves_lines(customer, stocked_product):
    first, second = stocked_product(price_cents=100), stocked_product(price_cents=250)
    order = services.place_order(customer, [(first, 2), (second, 1)])
    assert sorted((line.product.sku, line.quantity, line.line_cents) for line in order.lines.all()) == sorted(
        [(first.sku, 2, 200), (second.sku, 1, 250)]
    )


def test_place_order_uses_customer_country(customer, stocked_product):
    assert services.place_order(customer, [(stocked_product(), 1)]).country == "DE"


def test_place_order_reserves_stock(customer, stocked_product):
    product = stocked_product(quantity=10)
    services.place_order(customer, [(product, 4)])
    assert inventory.available(product) == 6


def test_place_order_out_of_stock_rolls_back(customer, stocked_product):
    plenty, scarce = stocked_product(quantity=10), stocked_product(quantity=1)
    with pytest.raises(services.CheckoutError):
        services.place_order(customer, [(plenty, 5), (scarce, 2)])
    assert (Order.objects.count(), inventory.available(plenty)) == (0, 10)


def test_place_order_records_coupon_upper_case(customer, stocked_product):
    assert services.place_order(customer, [(stocked_product(), 1)], coupon_code="save5").coupon == "SAVE5"


def test_new_orders_are_pending(customer, stocked_product):
    assert services.place_order(customer, [(stocked_product(), 1)]).status == Order.Status.PENDING


def test_cancel_releases_stock(customer, stocked_product):
    product = stocked_product(quantity=3)
    order = services.place_order(customer, [(product, 3)])
    services.cancel(order)
    assert inventory.available(product) == 3


def test_cancel_shipped_order_is_refused(customer, stocked_product):
    order = services.place_order(customer, [(stocked_product(), 1)])
    order.status = Order.Status.SHIPPED
    order.save()
    with pytest.raises(services.CheckoutError, match="shipped"):
        services.cancel(order)


def test_cancel_paid_order(customer, stocked_product):
    order = services.place_order(customer, [(stocked_product(), 1)])
    order.status = Order.Status.PAID
    order.save()
    assert services.cancel(order).status == Order.Status.CANCELLED


def test_items_from_payload(stocked_product):
    product = stocked_product()
    assert services.items_from_payload({"items": [{"sku": product.sku, "quantity": 3}]}) == [(product, 3)]


def test_items_from_payload_skips_inactive(stocked_product):
    product = stocked_product(active=False)
    with pytest.raises(services.CheckoutError, match="unknown product"):
        services.items_from_payload({"items": [{"sku": product.sku}]})


def test_announce_publishes_an_event(customer, stocked_product):
    order = services.place_order(customer, [(stocked_product(), 1)])
    assert len(services.announce(order)) == 32


@pytest.mark.parametrize("country", ["DE", "FR", "US", "JP", "SE"])
def test_place_order_for_each_destination(customer, stocked_product, country):
    order = services.place_order(customer, [(stocked_product(price_cents=2500), 2)], country=country)
    assert order.total_cents == order.subtotal_cents + order.shipping_cents + order.tax_cents


@pytest.mark.slow
def test_a_busy_day_of_checkouts(make_customer, stocked_product):
    products = [stocked_product(price_cents=100 * (i + 1), quantity=10_000) for i in range(10)]
    customers = [make_customer() for _ in range(20)]
    for n in range(300):
        services.place_order(customers[n % 20], [(products[n % 10], 1 + n % 4), (products[(n * 7) % 10], 2)])
    assert Order.objects.count() == 300
    assert sum(inventory.available(p) for p in products) == 10 * 10_000 - sum(1 + n % 4 + 2 for n in range(300))


@pytest.mark.slow
def test_flash_sale_sells_out_exactly(make_customer, stocked_product):
    product = stocked_product(price_cents=999, quantity=250)
    customers = [make_customer() for _ in range(40)]
    sold, refused = 0, 0
    for n in range(400):
        try:
            services.place_order(customers[n % 40], [(product, 1)])
            sold += 1
        except services.CheckoutError:
            refused += 1
    assert (sold, refused, inventory.available(product)) == (250, 150, 0)
