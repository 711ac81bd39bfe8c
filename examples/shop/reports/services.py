"""Sales reports, and the read-only role the BI tool connects with."""

from collections import Counter
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from orders.models import Order, OrderLine

from .models import DailySales

BI_ROLE = "bi_reader"


def rebuild_daily_sales(start, end):
    """Recompute DailySales for [start, end] from the orders; returns the rows."""
    rows = (
        Order.objects.exclude(status=Order.Status.CANCELLED)
        .filter(created__date__gte=start, created__date__lte=end)
        .annotate(day=TruncDate("created"))
        .values("day")
        .annotate(n=Count("id"), revenue=Sum("total_cents"))
        .order_by("day")
    )
    with transaction.atomic():
        DailySales.objects.filter(day__gte=start, day__lte=end).delete()
        made = [
            DailySales(day=r["day"], orders=r["n"], revenue_cents=r["revenue"], average_cents=r["revenue"] // r["n"])
            for r in rows
        ]
        DailySales.objects.bulk_create(made)
    return made


def top_products(limit=5):
    counts = Counter()
    for sku, qty in OrderLine.objects.exclude(order__status=Order.Status.CANCELLED).values_list("product__sku", "quantity"):
        counts[sku] += qty
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def moving_average(values, window):
    if window <= 0:
        raise ValueError("window must be positive")
    out, total = [], 0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def days(start, end):
    return [start + timedelta(n) for n in range((end - start).days + 1)]


def offboard_bi_role():
    """Remove the BI tool's role: revoke what it was granted here, then drop it."""
    with connection.cursor() as cursor:
        cursor.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {BI_ROLE}")
        cursor.execute(f"DROP ROLE {BI_ROLE}")


def bi_role_tables():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.role_table_grants WHERE grantee = %s ORDER BY 1", [BI_ROLE]
        )
        return [row[0] for row in cursor.fetchall()]
