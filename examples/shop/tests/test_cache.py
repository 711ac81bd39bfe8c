"""Product cards, cache-aside in Redis."""

import uuid

import pytest
from django.core.cache import cache

from catalog import cache as cards
from catalog.models import Product

pytestmark = pytest.mark.django_db


def test_card_key_names_the_sku():
    assert cards.card_key("ABC-1") == "product-card:ABC-1"


def test_card_is_built_from_the_database(make_product):
    product = make_product(name="Level", price_cents=2590)
    assert cards.product_card(product.sku)["name"] == "Level"


def test_card_is_stored_in_redis(make_product):
    product = make_product()
    cards.product_card(product.sku)
    assert cache.get(cards.card_key(product.sku))["sku"] == product.sku


def test_second_read_does_not_query(make_product, django_assert_num_queries):
    product = make_product()
    cards.product_card(product.sku)
    with django_assert_num_queries(0):
        cards.product_card(product.sku)


def test_stale_card_is_served_until_invalidated(make_product):
    product = make_product(price_cents=100)
    cards.product_card(product.sku)
    Product.objects.filter(pk=product.pk).update(price_cents=200)
    assert cards.product_card(product.sku)["price_cents"] == 100
    cards.invalidate(product.sku)
    assert cards.product_card(product.sku)["price_cents"] == 200


def test_invalidating_a_missing_card_is_harmless():
    cards.invalidate("NEVER-CACHED-SKU")
    assert cache.get(cards.card_key("NEVER-CACHED-SKU")) is None


def test_missing_product_raises(db):
    with pytest.raises(Product.DoesNotExist):
        cards.product_card("MISSING-SKU")


def test_missing_product_is_not_cached(db):
    with pytest.raises(Product.DoesNotExist):
        cards.product_card("MISSING-SKU-2")
    assert cache.get(cards.card_key("MISSING-SKU-2")) is None


def test_inactive_product_has_no_card(make_product):
    product = make_product(active=False)
    with pytest.raises(Product.DoesNotExist):
        cards.product_card(product.sku)


def test_warm_loads_missing_cards(make_product):
    products = [make_product() for _ in range(5)]
    assert cards.warm([p.sku for p in products]) == 5
    assert cards.warm([p.sku for p in products]) == 0


def test_warm_counts_only_the_missing(make_product):
    first, second = make_product(), make_product()
    cards.product_card(first.sku)
    assert cards.warm([first.sku, second.sku]) == 1


def test_warm_skips_unknown_skus(make_product):
    product = make_product()
    assert cards.warm([product.sku, "UNKNOWN-SKU-X"]) == 2
    assert cache.get(cards.card_key("UNKNOWN-SKU-X")) is None


@pytest.mark.slow
def test_warm_a_thousand_cards(db):
    batch = uuid.uuid4().hex[:12]
    skus = [f"WARM-{batch}-{i}" for i in range(1000)]
    Product.objects.bulk_create(Product(sku=sku, name=f"Item {sku}", price_cents=100) for sku in skus)
    cards.warm(skus)
    assert len(cache.get_many([cards.card_key(s) for s in skus])) == 1000
    cache.delete_many([cards.card_key(s) for s in skus])


def test_card_timeout_is_ten_minutes(make_product):
    product = make_product()
    cards.product_card(product.sku)
    ttl = cache._cache.get_client().ttl(cache.make_key(cards.card_key(product.sku)))
    assert 590 < ttl <= 600


def test_keys_carry_the_shop_prefix():
    assert cache.make_key("x").startswith("shop:")


def test_deactivate_drops_the_card(make_product):
    from catalog import services

    product = make_product()
    cards.product_card(product.sku)
    services.deactivate(product)
    assert cache.get(cards.card_key(product.sku)) is None


def test_unicode_names_survive_the_cache(make_product):
    product = make_product(name="Säge – 日本")
    cards.product_card(product.sku)
    assert cards.product_card(product.sku)["name"] == "Säge – 日本"


@pytest.mark.slow
def test_cards_survive_a_rolling_price_update(db):
    from catalog import services

    batch = uuid.uuid4().hex[:12]
    products = Product.objects.bulk_create(Product(sku=f"ROLL-{batch}-{i}", name="x", price_cents=100) for i in range(150))
    cards.warm([p.sku for p in products])
    for product in products:
        services.change_price(product, 150)
    assert {cards.product_card(p.sku)["price_cents"] for p in products} == {150}
