"""Sales reports, and the BI tool's read-only role."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from orders.models import Order
from reports import services
from reports.models import DailySales

pytestmark = pytest.mark.django_db


def backdate(order, day):
    Order.objects.filter(pk=order.pk).update(created=timezone.make_aware(timezone.datetime(day.year, day.month, day.day, 12)))


@pytest.fixture
def order_on(make_customer, stocked_product):
    customer, product = make_customer(), stocked_product(price_cents=1000, quantity=100_000)

    def make(day, quantity=1, status=Order.Status.PAID):
        from orders import services as checkout

        order = checkout.place_order(customer, [(product, quantity)], country="US")
        Order.objects.filter(pk=order.pk).update(status=status)
        backdate(order, day)
        return order

    return make


@pytest.mark.isolation
def test_bi_role_can_be_offboarded():
    # Roles are cluster-wide: DROP ROLE fails while any database grants it anything.
    services.offboard_bi_role()
    assert services.bi_role_tables() == []


def test_empty_range_has_no_rows():
    assert services.rebuild_daily_sales(date(2024, 1, 1), date(2024, 1, 31)) == []


def test_one_row_per_day(order_on):
    day = date(2024, 3, 5)
    order_on(day)
    order_on(day)
    order_on(day + timedelta(1))
    rows = services.rebuild_daily_sales(day, day + timedelta(1))
    assert [(r.day, r.orders) for r in rows] == [(day, 2), (day + timedelta(1), 1)]


def test_cancelled_orders_do_not_count(order_on):
    day = date(2024, 4, 1)
    order_on(day)
    order_on(day, status=Order.Status.CANCELLED)
    assert services.rebuild_daily_sales(day, day)[0].orders == 1


def test_revenue_and_average(order_on):
    day = date(2024, 5, 1)
    order_on(day, quantity=1)
    order_on(day, quantity=3)
    row = services.rebuild_daily_sales(day, day)[0]
    # To the US: no VAT; world shipping is 19.90 up to 1 kg, 34.90 up to 5 kg.
    revenue = (1000 + 1990) + (3000 + 3490)
    assert (row.revenue_cents, row.average_cents) == (revenue, revenue // 2)


def test_rebuild_replaces_old_rows(order_on):
    day = date(2024, 6, 1)
    DailySales.objects.create(day=day, orders=99, revenue_cents=1, average_cents=1)
    order_on(day)
    services.rebuild_daily_sales(day, day)
    assert DailySales.objects.get(day=day).orders == 1


def test_rebuild_keeps_rows_outside_the_range(order_on):
    DailySales.objects.create(day=date(2023, 1, 1), orders=5, revenue_cents=5, average_cents=1)
    services.rebuild_daily_sales(date(2024, 1, 1), date(2024, 1, 2))
    assert DailySales.objects.filter(day=date(2023, 1, 1)).exists()


def test_top_products(make_customer, stocked_product):
    from orders import services as checkout

    customer = make_customer()
    a, b = stocked_product(sku="TOP-A"), stocked_product(sku="TOP-B")
    checkout.place_order(customer, [(a, 2), (b, 5)])
    checkout.place_order(customer, [(a, 1)])
    assert services.top_products() == [("TOP-B", 5), ("TOP-A", 3)]


@pytest.mark.parametrize(
    "values,window,expected",
    [([1, 2, 3, 4], 2, [1, 1.5, 2.5, 3.5]), ([5], 3, [5]), ([2, 4, 6], 3, [2, 3, 4]), ([], 2, [])],
)
def test_moving_average(values, window, expected):
    assert services.moving_average(values, window) == expected


def test_moving_average_needs_a_window():
    with pytest.raises(ValueError):
        services.moving_average([1], 0)


def test_days_inclusive():
    assert services.days(date(2024, 2, 28), date(2024, 3, 1)) == [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)]


def test_bi_role_can_read_the_report_table():
    assert services.bi_role_tables() == ["reports_dailysales"]


@pytest.mark.slow
def test_half_a_year_of_daily_sales(make_customer, stocked_product):
    from orders.models import OrderLine

    customer, product = make_customer(), stocked_product(price_cents=500)
    start = date(2024, 1, 1)
    made = Order.objects.bulk_create(
        Order(customer=customer, country="US", status=Order.Status.PAID, subtotal_cents=500 * (1 + n % 7), total_cents=500 * (1 + n % 7))
        for n in range(6000)
    )
    OrderLine.objects.bulk_create(OrderLine(order=o, product=product, quantity=1 + n % 7, unit_cents=500, line_cents=500 * (1 + n % 7)) for n, o in enumerate(made))
    for n, order in enumerate(made):
        order.created = timezone.make_aware(timezone.datetime(2024, 1, 1, 9)) + timedelta(days=n % 180)
    Order.objects.bulk_update(made, ["created"], batch_size=500)
    rows = services.rebuild_daily_sales(start, start + timedelta(179))
    assert len(rows) == 180 and sum(r.orders for r in rows) == 6000
    averages = services.moving_average([r.revenue_cents for r in rows], 7)
    assert len(averages) == 180
    assert services.top_products(1) == [(product.sku, sum(1 + n % 7 for n in range(6000)))]
