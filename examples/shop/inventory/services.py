"""Stock reservations: reserve at checkout, release on cancel, ship to deduct."""

from django.db import transaction
from django.db.models import F, Sum

from .models import StockLevel


class OutOfStock(Exception):
    def __init__(self, product, wanted, available):
        super().__init__(f"{product.sku}: wanted {wanted}, {available} available")
        self.product, self.wanted, self.available = product, wanted, available


def available(product):
    totals = StockLevel.objects.filter(product=product).aggregate(q=Sum("quantity"), r=Sum("reserved"))
    return (totals["q"] or 0) - (totals["r"] or 0)


def reserve(product, quantity, prefer_country=None):
    """Reserve from the warehouses with the most stock, preferring one country."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    with transaction.atomic():
        levels = list(StockLevel.objects.select_for_update().select_related("warehouse").filter(product=product))
        total = sum(level.available for level in levels)
        if total < quantity:
            raise OutOfStock(product, quantity, total)
        levels.sort(key=lambda level: (level.warehouse.country != prefer_country, -level.available, level.warehouse.code))
        taken, remaining = [], quantity
        for level in levels:
            take = min(level.available, remaining)
            if take:
                StockLevel.objects.filter(pk=level.pk).update(reserved=F("reserved") + take)
                taken.append((level.warehouse.code, take))
                remaining -= take
            if not remaining:
                break
        return taken


def release(product, allocations):
    with transaction.atomic():
        for code, amount in allocations:
            StockLevel.objects.filter(product=product, warehouse__code=code).update(reserved=F("reserved") - amount)


def ship(product, allocations):
    with transaction.atomic():
        for code, amount in allocations:
            StockLevel.objects.filter(product=product, warehouse__code=code).update(
                reserved=F("reserved") - amount, quantity=F("quantity") - amount
            )
