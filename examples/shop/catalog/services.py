from django.db import transaction

from shop import events

from . import cache
from .models import Product


def change_price(product, new_cents):
    """Change a price and tell every running instance to drop its cached card."""
    if new_cents <= 0:
        raise ValueError("price must be positive")
    old = product.price_cents
    with transaction.atomic():
        Product.objects.filter(pk=product.pk).update(price_cents=new_cents)
    product.price_cents = new_cents
    cache.invalidate(product.sku)
    return events.publish("price_changed", {"sku": product.sku, "old": old, "new": new_cents})


def deactivate(product):
    product.active = False
    product.save(update_fields=["active"])
    cache.invalidate(product.sku)
