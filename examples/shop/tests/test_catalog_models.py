"""Catalog models: categories, products and their constraints."""

import pytest
from django.db import IntegrityError

from catalog.models import Category, Product

pytestmark = pytest.mark.django_db


def test_category_str(make_category):
    assert str(make_category("Garden")) == "Garden"


def test_category_path_from_root(make_category):
    root = make_category("Home")
    kitchen = make_category("Kitchen", parent=root)
    knives = make_category("Knives", parent=kitchen)
    assert knives.path() == ["Home", "Kitchen", "Knives"]


def test_root_category_path(make_category):
    assert make_category("Root").path() == ["Root"]


def test_categories_ordered_by_name(make_category):
    for name in ["Zinc", "Apples", "Mops"]:
        make_category(name)
    assert [c.name for c in Category.objects.filter(name__in=["Zinc", "Apples", "Mops"])] == ["Apples", "Mops", "Zinc"]


def test_category_slug_is_unique(make_category):
    make_category("A", slug="same")
    with pytest.raises(IntegrityError):
        make_category("B", slug="same")


def test_deleting_a_parent_deletes_children(make_category):
    root = make_category("Root")
    make_category("Child", parent=root)
    root.delete()
    assert not Category.objects.filter(name="Child").exists()


def test_product_str(make_product):
    product = make_product(sku="STR-1", name="Nail")
    assert str(product) == "STR-1 Nail"


def test_product_sku_is_unique(make_product):
    make_product(sku="DUP-1")
    with pytest.raises(IntegrityError):
        make_product(sku="DUP-1")


def test_product_price_must_not_be_negative(make_product):
    with pytest.raises(IntegrityError):
        make_product(price_cents=-1)


def test_deleting_a_category_keeps_its_products(make_product, make_category):
    category = make_category("Temp")
    product = make_product(category=category)
    category.delete()
    product.refresh_from_db()
    assert product.category is None


def test_products_ordered_by_sku(make_product):
    for sku in ["ORD-C", "ORD-A", "ORD-B"]:
        make_product(sku=sku)
    assert list(Product.objects.filter(sku__startswith="ORD-").values_list("sku", flat=True)) == ["ORD-A", "ORD-B", "ORD-C"]


def test_new_products_are_active(make_product):
    assert make_product().active is True


def test_default_weight(make_product):
    assert make_product().weight_grams == 500


def test_created_is_set(make_product):
    assert make_product().created is not None


def test_as_dict(make_product, make_category):
    product = make_product(sku="D-1", name="Drill", price_cents=4999, category=make_category("T", slug="t-slug"))
    assert product.as_dict() == {"sku": "D-1", "name": "Drill", "price_cents": 4999, "category": "t-slug", "active": True}


def test_category_products_relation(make_product, make_category):
    category = make_category("Rel")
    make_product(category=category)
    make_product(category=category)
    assert category.products.count() == 2


@pytest.mark.parametrize("count", [1, 10, 100])
def test_bulk_create_products(db, count):
    Product.objects.bulk_create(Product(sku=f"BULKM-{count}-{i}", name="x", price_cents=1) for i in range(count))
    assert Product.objects.filter(sku__startswith=f"BULKM-{count}-").count() == count


def test_filter_products_by_category_tree(make_product, make_category):
    root = make_category("Outdoor")
    child = make_category("Camping", parent=root)
    make_product(category=child)
    assert Product.objects.filter(category__parent=root).count() == 1


def test_long_descriptions_are_kept(make_product):
    text = "word " * 2000
    assert make_product(description=text).description == text


def test_update_price(make_product):
    product = make_product(price_cents=100)
    Product.objects.filter(pk=product.pk).update(price_cents=250)
    product.refresh_from_db()
    assert product.price_cents == 250
