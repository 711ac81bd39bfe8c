"""Domain events, broadcast to every running instance with PostgreSQL NOTIFY.

Events go over a dedicated autocommit connection to the main database (a
NOTIFY inside a request's transaction would only be sent at commit). Each
instance LISTENs (see instance.py) and runs the handlers below; handlers
count what they handled in Redis so operators can see deliveries.
"""

import json
import threading
import time
import uuid

import psycopg2
import redis
from django.conf import settings

CHANNEL = "shop_events"
HANDLED_TTL = 600

_publisher = None
_publisher_lock = threading.Lock()
_handlers = {}


def handler(kind):
    def register(fn):
        _handlers.setdefault(kind, []).append(fn)
        return fn

    return register


def encode(kind, data, event_id=None):
    return json.dumps({"id": event_id or uuid.uuid4().hex, "kind": kind, "data": data}, sort_keys=True)


def decode(payload):
    event = json.loads(payload)
    if not {"id", "kind", "data"} <= event.keys():
        raise ValueError(f"not an event: {payload!r}")
    return event


def publish(kind, data):
    """Send an event to every instance; returns its id."""
    global _publisher
    payload = encode(kind, data)
    with _publisher_lock:
        if _publisher is None or _publisher.closed:
            _publisher = psycopg2.connect(settings.EVENTS_DATABASE_URL, application_name="shop-events")
            _publisher.autocommit = True
        with _publisher.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, payload])
    return decode(payload)["id"]


def handled_key(event_id):
    return f"shop:events:{event_id}:handled"


def dispatch(payload, counters):
    """Run the handlers for one received event and count the delivery.

    `counters` is the instance's own Redis client (database 0, the cache's):
    handlers run on the instance's thread and use it rather than Django's
    per-thread cache connections.
    """
    event = decode(payload)
    for fn in _handlers.get(event["kind"], []):
        fn(event["data"], counters)
    key = handled_key(event["id"])
    counters.incr(key)
    counters.expire(key, HANDLED_TTL)
    return event


def _counters():
    return redis.Redis.from_url(f"{settings.REDIS_URL}/0", client_name="shop-events")


def handled_count(event_id, counters=None):
    return int((counters or _counters()).get(handled_key(event_id)) or 0)


def wait_handled(event_id, timeout=30.0, settle=1.0):
    """Wait until the event was handled, then a little longer for late handlers."""
    counters = _counters()
    deadline = time.monotonic() + timeout
    while handled_count(event_id, counters) == 0:
        if time.monotonic() > deadline:
            return 0
        time.sleep(0.02)
    time.sleep(settle)
    return handled_count(event_id, counters)


@handler("price_changed")
def _drop_cached_card(data, counters):
    from django.core.cache import cache

    from catalog.cache import card_key

    counters.delete(cache.make_key(card_key(data["sku"])))
