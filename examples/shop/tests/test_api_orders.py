"""The order API: placing, reading, listing and cancelling orders."""

import json

import pytest

from orders.models import Order

pytestmark = pytest.mark.django_db


def post_order(client, payload):
    return client.post("/api/orders", json.dumps(payload), content_type="application/json")


@pytest.fixture
def customer(make_customer):
    return make_customer(country="DE")


def test_place_order(client, customer, stocked_product):
    product = stocked_product(price_cents=2000)
    response = post_order(client, {"customer": customer.email, "items": [{"sku": product.sku, "quantity": 2}]})
    assert response.status_code == 201
    body = response.json()
    assert body["subtotal_cents"] == 4000
    assert body["lines"] == [{"sku": product.sku, "quantity": 2, "unit_cents": 2000, "line_cents": 4000}]


def test_order_totals_add_up(client, customer, stocked_product):
    product = stocked_product(price_cents=1234)
    body = post_order(client, {"customer": customer.email, "items": [{"sku": product.sku, "quantity": 3}]}).json()
    assert body["total_cents"] == body["subtotal_cents"] + body["shipping_cents"] + body["tax_cents"]


def test_quantity_defaults_to_one(client, customer, stocked_product):
    product = stocked_product()
    body = post_order(client, {"customer": customer.email, "items": [{"sku": product.sku}]}).json()
    assert body["lines"][0]["quantity"] == 1


def test_order_with_coupon(client, customer, stocked_product):
    product = stocked_product(price_cents=10000)
    body = post_order(client, {"customer": customer.email, "items": [{"sku": product.sku}], "coupon": "save10"}).json()
    assert body["subtotal_cents"] == 9000


def test_unknown_coupon_is_a_409(client, customer, stocked_product):
    product = stocked_product()
    response = post_order(client, {"customer": customer.email, "items": [{"sku": product.sku}], "coupon": "FREE"})
    assert response.status_code == 409
    assert "unknown coupon" in response.json()["error"]


def test_destination_country_overrides_customer_country(client, customer, stocked_product):
    product = stocked_product(price_cents=10000)
    body = post_order(client, {"customer": customer.email, "items": [{"sku": product.sku}], "country": "US"}).json()
    assert (body["country"], body["tax_cents"]) == ("US", 0)


def test_not_json_is_a_400(client):
    response = client.post("/api/orders", "{not json", content_type="application/json")
    assert response.status_code == 400


def test_unknown_customer_is_a_400(client, stocked_product):
    product = stocked_product()
    response = post_order(client, {"customer": "ghost@example.com", "items": [{"sku": product.sku}]})
    assert response.json() == {"error": "unknown customer"}


@pytest.mark.parametrize(
    "items,message",
    [
        ([], "items must be a non-empty list"),
        ("SKU-1", "items must be a non-empty list"),
        ([{"sku": "NOPE"}], "unknown product 'NOPE'"),
    ],
)
def test_bad_items_are_a_409(client, customer, items, message):
    response = post_order(client, {"customer": customer.email, "items": items})
    assert (response.status_code, response.json()["error"]) == (409, message)


@pytest.mark.parametrize("quantity", [0, -2, "3", 1.5])
def test_bad_quantities_are_a_409(client, customer, stocked_product, quantity):
    product = stocked_product()
    response = post_order(client, {"customer": customer.email, "items": [{"sku": product.sku, "quantity": quantity}]})
    assert response.status_code == 409
    assert response.json()["error"] == f"bad quantity for {product.sku}"


def test_out_of_stock_is_a_409_and_saves_nothing(client, customer, stocked_product):
    product = stocked_product(quantity=2)
    response = post_order(client, {"customer": customer.email, "items": [{"sku": product.sku, "quantity": 3}]})
    assert response.status_code == 409
    assert Order.objects.count() == 0


def test_get_order(client, customer, stocked_product):
    product = stocked_product()
    order_id = post_order(client, {"customer": customer.email, "items": [{"sku": product.sku}]}).json()["id"]
    body = client.get(f"/api/orders/{order_id}").json()
    assert (body["id"], body["customer"], body["status"]) == (order_id, customer.email, "pending")


def test_get_unknown_order_is_a_404(client):
    assert client.get("/api/orders/999999").status_code == 404


def test_list_orders_of_a_customer(client, make_customer, stocked_product):
    alice, bob = make_customer(), make_customer()
    product = stocked_product()
    for who in (alice, alice, bob):
        post_order(client, {"customer": who.email, "items": [{"sku": product.sku}]})
    assert len(client.get("/api/orders", {"customer": alice.email}).json()["results"]) == 2


def test_list_orders_needs_a_customer(client):
    assert client.get("/api/orders").status_code == 400


def test_list_is_newest_first(client, customer, stocked_product):
    product = stocked_product()
    ids = [post_order(client, {"customer": customer.email, "items": [{"sku": product.sku}]}).json()["id"] for _ in range(3)]
    listed = [o["id"] for o in client.get("/api/orders", {"customer": customer.email}).json()["results"]]
    assert listed == list(reversed(ids))


def test_cancel_order(client, customer, stocked_product):
    product = stocked_product(quantity=5)
    order_id = post_order(client, {"customer": customer.email, "items": [{"sku": product.sku, "quantity": 5}]}).json()["id"]
    assert client.post(f"/api/orders/{order_id}/cancel").json() == {"id": order_id, "status": "cancelled"}
    assert post_order(client, {"customer": customer.email, "items": [{"sku": product.sku, "quantity": 5}]}).status_code == 201


def test_cancel_twice_is_a_409(client, customer, stocked_product):
    product = stocked_product()
    order_id = post_order(client, {"customer": customer.email, "items": [{"sku": product.sku}]}).json()["id"]
    client.post(f"/api/orders/{order_id}/cancel")
    assert client.post(f"/api/orders/{order_id}/cancel").status_code == 409


def test_cancel_unknown_order_is_a_404(client):
    assert client.post("/api/orders/424242/cancel").status_code == 404


def test_cancel_needs_post(client):
    assert client.get("/api/orders/1/cancel").status_code == 405


def test_put_on_orders_is_not_allowed(client):
    assert client.put("/api/orders").status_code == 405


@pytest.mark.slow
def test_order_history_of_a_loyal_customer(client, customer, stocked_product):
    products = [stocked_product(price_cents=100 + n) for n in range(5)]
    for n in range(120):
        post_order(client, {"customer": customer.email, "items": [{"sku": products[n % 5].sku, "quantity": 1 + n % 3}]})
    results = client.get("/api/orders", {"customer": customer.email}).json()["results"]
    assert len(results) == 120
    assert sum(line["quantity"] for order in results for line in order["lines"]) == sum(1 + n % 3 for n in range(120))
