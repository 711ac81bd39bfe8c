"""Cache-aside for product cards: the product page's hot path."""

from django.core.cache import cache

from .models import Product

CARD_TIMEOUT = 600


def card_key(sku):
    return f"product-card:{sku}"


def product_card(sku):
    """The product's public card, from Redis when it is there."""
    key = card_key(sku)
    card = cache.get(key)
    if card is None:
        product = Product.objects.select_related("category").get(sku=sku, active=True)
        card = product.as_dict()
        cache.set(key, card, CARD_TIMEOUT)
    return card


def invalidate(sku):
    cache.delete(card_key(sku))


def warm(skus):
    """Load several cards at once; returns how many were missing."""
    keys = {card_key(sku): sku for sku in skus}
    found = cache.get_many(list(keys))
    missing = [sku for key, sku in keys.items() if key not in found]
    products = Product.objects.select_related("category").filter(sku__in=missing, active=True)
    cache.set_many({card_key(p.sku): p.as_dict() for p in products}, CARD_TIMEOUT)
    return len(missing)
