"""End-to-end workflows through the API and the services: order, pay, ship,
cancel, report. Slower than unit tests, as such tests are."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from inventory import services as inventory
from orders.models import Order
from payments import services as payments
from payments.models import Payment
from reports import services as reports

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(make_customer, stocked_product):
    customers = [make_customer(country=c) for c in ("DE", "FR", "US", "SE")]
    products = [stocked_product(price_cents=500 + 250 * n, quantity=10_000) for n in range(6)]
    return customers, products


def order_via_api(client, customer, items, **extra):
    payload = {"customer": customer.email, "items": [{"sku": p.sku, "quantity": q} for p, q in items], **extra}
    response = client.post("/api/orders", json.dumps(payload), content_type="application/json")
    assert response.status_code == 201, response.content
    return Order.objects.get(pk=response.json()["id"])


@pytest.mark.parametrize("n_orders", [20, 40, 60, 80, 100])
def test_order_pay_and_ship(client, shop, n_orders):
    customers, products = shop
    for n in range(n_orders):
        order = order_via_api(client, customers[n % 4], [(products[n % 6], 1 + n % 2)])
        assert payments.capture(order, "tok_visa").status == Payment.Status.CAPTURED
        for line in order.lines.select_related("product"):
            level = line.product.stock.first()
            inventory.ship(line.product, [(level.warehouse.code, line.quantity)])
    assert Order.objects.filter(status=Order.Status.PAID).count() == n_orders


def test_cancelled_orders_give_back_their_stock(client, shop):
    customers, products = shop
    before = [inventory.available(p) for p in products]
    orders = [order_via_api(client, customers[n % 4], [(products[n % 6], 3)]) for n in range(36)]
    for order in orders:
        assert client.post(f"/api/orders/{order.pk}/cancel").status_code == 200
    assert [inventory.available(p) for p in products] == before


def test_declined_cards_leave_orders_pending(client, shop):
    customers, products = shop
    orders = [order_via_api(client, customers[0], [(products[0], 1)]) for _ in range(15)]
    assert payments.capture_batch(orders, "tok_declined") == {"captured": 0, "declined": 15}
    assert set(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("status", flat=True)) == {"pending"}


def test_refunds_after_capture(client, shop):
    customers, products = shop
    for n in range(15):
        order = order_via_api(client, customers[n % 4], [(products[n % 6], 1)])
        payments.refund(payments.capture(order, "tok_visa"))
    assert Payment.objects.filter(status=Payment.Status.REFUNDED).count() == 15


def test_coupons_across_destinations(client, shop):
    customers, products = shop
    totals = {}
    for customer in customers:
        order = order_via_api(client, customer, [(products[5], 4)], coupon="SAVE10")
        totals[customer.country] = (order.subtotal_cents, order.tax_cents)
    subtotal = (1750 * 4) * 90 // 100
    assert {country: sub for country, (sub, _) in totals.items()} == dict.fromkeys(totals, subtotal)
    assert totals["US"][1] == 0 and totals["DE"][1] > 0


def test_a_month_of_orders_in_the_daily_report(client, shop):
    customers, products = shop
    start = timezone.now().date() - timedelta(days=29)
    for n in range(90):
        order = order_via_api(client, customers[n % 4], [(products[n % 6], 1)])
        day = start + timedelta(days=n % 30)
        Order.objects.filter(pk=order.pk).update(created=timezone.make_aware(timezone.datetime(day.year, day.month, day.day, 10)))
    rows = reports.rebuild_daily_sales(start, start + timedelta(days=29))
    assert [r.orders for r in rows] == [3] * 30


def test_best_sellers_after_a_sale(client, shop):
    customers, products = shop
    for n in range(60):
        order_via_api(client, customers[n % 4], [(products[0], 2), (products[n % 3], 1)])
    assert reports.top_products(1) == [(products[0].sku, 60 * 2 + 20)]


def test_order_history_pages_through_the_api(client, shop):
    customers, products = shop
    for n in range(45):
        order_via_api(client, customers[0], [(products[n % 6], 1)])
    listed = client.get("/api/orders", {"customer": customers[0].email}).json()["results"]
    assert len(listed) == 45 and listed[0]["id"] > listed[-1]["id"]


def test_price_changes_reach_new_orders(client, shop):
    from catalog import services as catalog

    customers, products = shop
    for n, product in enumerate(products):
        catalog.change_price(product, 10_000 + n)
    orders = [order_via_api(client, customers[2], [(p, 1)]) for p in products]
    assert [o.lines.get().unit_cents for o in orders] == [10_000 + n for n in range(6)]


def test_stock_runs_out_mid_campaign(client, make_customer, stocked_product):
    product = stocked_product(price_cents=100, quantity=75)
    customer = make_customer()
    statuses = []
    for _ in range(100):
        payload = {"customer": customer.email, "items": [{"sku": product.sku, "quantity": 1}]}
        statuses.append(client.post("/api/orders", json.dumps(payload), content_type="application/json").status_code)
    assert (statuses.count(201), statuses.count(409)) == (75, 25)
