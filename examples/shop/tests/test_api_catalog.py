"""The product API: listing, filtering, search and detail pages."""

import pytest

pytestmark = pytest.mark.django_db


def test_empty_catalog_lists_nothing(client):
    body = client.get("/api/products").json()
    assert body == {"count": 0, "page": 1, "pages": 1, "results": []}


def test_lists_active_products(client, make_product):
    make_product(name="Hammer")
    make_product(name="Saw", active=False)
    names = [p["name"] for p in client.get("/api/products").json()["results"]]
    assert names == ["Hammer"]


def test_list_is_ordered_by_sku(client, make_product):
    for sku in ["C-1", "A-1", "B-1"]:
        make_product(sku=sku)
    skus = [p["sku"] for p in client.get("/api/products").json()["results"]]
    assert skus == ["A-1", "B-1", "C-1"]


def test_filter_by_category(client, make_product, make_category):
    tools, garden = make_category("Tools"), make_category("Garden")
    make_product(name="Hammer", category=tools)
    make_product(name="Rake", category=garden)
    body = client.get("/api/products", {"category": garden.slug}).json()
    assert [p["name"] for p in body["results"]] == ["Rake"]


def test_filter_by_unknown_category_is_empty(client, make_product):
    make_product()
    assert client.get("/api/products", {"category": "nope"}).json()["count"] == 0


@pytest.mark.parametrize("max_price,expected", [(500, 1), (1000, 2), (1999, 2), (2000, 3), (0, 0)])
def test_filter_by_max_price(client, make_product, max_price, expected):
    for cents in (500, 1000, 2000):
        make_product(price_cents=cents)
    assert client.get("/api/products", {"max_price": max_price}).json()["count"] == expected


@pytest.mark.parametrize("bad", ["cheap", "-1", "1.5", ""])
def test_bad_max_price_is_a_400(client, bad):
    response = client.get("/api/products", {"max_price": bad})
    assert response.status_code == 400
    assert "max_price" in response.json()["error"]


def test_search_ranks_name_matches_first(client, make_product):
    make_product(name="Garden hose", description="a drill-free hose")
    make_product(name="Cordless drill", description="18 V")
    results = client.get("/api/products", {"q": "drill"}).json()["results"]
    assert [p["name"] for p in results] == ["Cordless drill", "Garden hose"]


def test_search_without_matches_is_empty(client, make_product):
    make_product(name="Hammer")
    assert client.get("/api/products", {"q": "violin"}).json()["count"] == 0


def test_pagination_splits_pages_of_twenty(client, make_product):
    for i in range(45):
        make_product(sku=f"P-{i:03d}")
    first = client.get("/api/products").json()
    third = client.get("/api/products", {"page": 3}).json()
    assert (first["count"], first["pages"], len(first["results"])) == (45, 3, 20)
    assert [p["sku"] for p in third["results"]] == ["P-040", "P-041", "P-042", "P-043", "P-044"]


def test_page_past_the_end_is_a_404(client, make_product):
    make_product()
    assert client.get("/api/products", {"page": 9}).status_code == 404


@pytest.mark.slow
def test_walking_every_page_of_a_large_catalog(client, make_product, make_category):
    from catalog.models import Product

    category = make_category("Bulk")
    Product.objects.bulk_create(
        Product(sku=f"BULK-{i:05d}", name=f"Bulk item {i}", price_cents=100 + i, category=category) for i in range(2500)
    )
    seen, page = [], 1
    while True:
        body = client.get("/api/products", {"category": category.slug, "page": page}).json()
        seen.extend(p["sku"] for p in body["results"])
        if page == body["pages"]:
            break
        page += 1
    assert len(seen) == 2500 and seen == sorted(seen)


def test_detail_returns_the_card(client, make_product, make_category):
    product = make_product(name="Chisel", price_cents=1250, category=make_category("Tools", slug="tools-x"))
    assert client.get(f"/api/products/{product.sku}").json() == {
        "sku": product.sku,
        "name": "Chisel",
        "price_cents": 1250,
        "category": "tools-x",
        "active": True,
    }


def test_detail_of_unknown_product_is_a_404(client):
    response = client.get("/api/products/NOPE-123")
    assert response.status_code == 404
    assert response.json() == {"error": "no product NOPE-123"}


def test_detail_of_inactive_product_is_a_404(client, make_product):
    product = make_product(active=False)
    assert client.get(f"/api/products/{product.sku}").status_code == 404


def test_detail_is_served_from_cache_the_second_time(client, make_product, django_assert_num_queries):
    product = make_product()
    client.get(f"/api/products/{product.sku}")
    with django_assert_num_queries(0):
        assert client.get(f"/api/products/{product.sku}").status_code == 200


def test_detail_without_category(client, make_product):
    product = make_product()
    assert client.get(f"/api/products/{product.sku}").json()["category"] is None


def test_list_reports_category_slugs(client, make_product, make_category):
    category = make_category("Paint", slug="paint-y")
    make_product(category=category)
    assert client.get("/api/products").json()["results"][0]["category"] == "paint-y"


def test_search_ignores_accents(client, make_product):
    make_product(name="Crème brûlée torch")
    assert [p["name"] for p in client.get("/api/products", {"q": "creme"}).json()["results"]] == ["Crème brûlée torch"]


def test_combined_filters(client, make_product, make_category):
    tools = make_category("Tools")
    make_product(name="Cheap drill", price_cents=900, category=tools)
    make_product(name="Pro drill", price_cents=9900, category=tools)
    make_product(name="Drill bits", price_cents=500)
    body = client.get("/api/products", {"category": tools.slug, "max_price": 1000, "q": "drill"}).json()
    assert [p["name"] for p in body["results"]] == ["Cheap drill"]
