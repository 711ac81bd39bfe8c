"""Domain events over LISTEN/NOTIFY, and broadcasts over Redis pub/sub."""

import time

import pytest

from shop import events, ops

pytestmark = pytest.mark.django_db


def test_encode_decode_round_trip():
    payload = events.encode("order_placed", {"order": 7}, event_id="abc")
    assert events.decode(payload) == {"id": "abc", "kind": "order_placed", "data": {"order": 7}}


def test_decode_rejects_non_events():
    with pytest.raises(ValueError, match="not an event"):
        events.decode('{"kind": "x"}')


def test_encode_is_deterministic():
    assert events.encode("k", {"b": 1, "a": 2}, "i") == events.encode("k", {"a": 2, "b": 1}, "i")


def test_handler_registry_runs_registered_handlers():
    seen = []
    events.handler("test_kind")(lambda data, counters: seen.append(data))

    class Counters:
        def incr(self, key):
            pass

        def expire(self, key, ttl):
            pass

    events.dispatch(events.encode("test_kind", {"x": 1}), Counters())
    assert seen == [{"x": 1}]


def test_published_event_reaches_this_instance():
    event_id = events.publish("noop", {"n": 1})
    assert events.wait_handled(event_id, settle=0) >= 1


def test_unhandled_event_id_counts_zero():
    assert events.handled_count("never-published") == 0


def test_broadcast_is_received_by_this_instance(shop_instance):
    ops.broadcast("hello")
    deadline = time.monotonic() + 30
    while "hello" not in shop_instance.broadcasts and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "hello" in shop_instance.broadcasts


def test_price_change_event_drops_cached_card(stocked_product, client):
    from catalog import services

    product = stocked_product(price_cents=1500)
    assert client.get(f"/api/products/{product.sku}").json()["price_cents"] == 1500
    event_id = services.change_price(product, 1700)
    events.wait_handled(event_id, settle=0)
    assert client.get(f"/api/products/{product.sku}").json()["price_cents"] == 1700


@pytest.mark.isolation
def test_event_is_handled_exactly_once():
    event_id = events.publish("order_placed", {"order": 1, "total": 100})
    assert events.wait_handled(event_id) == 1


@pytest.mark.isolation
def test_broadcast_reaches_one_instance():
    assert ops.broadcast("reload-config") == 1


@pytest.mark.slow
def test_a_burst_of_events_is_all_handled():
    ids = [events.publish("order_placed", {"order": n, "total": n * 100}) for n in range(150)]
    assert all(events.wait_handled(event_id, settle=0) >= 1 for event_id in ids)
    time.sleep(0.5)
