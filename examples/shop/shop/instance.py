"""This process, registered as a running instance of the shop.

Every web or worker process calls `start()` once (gunicorn's post_fork hook in
production, the test session's conftest in tests). A running instance:

- holds the maintenance lock *shared*, both as a PostgreSQL advisory lock and
  as a file lock, so a maintenance job (which wants it exclusive) knows when
  instances are still running;
- LISTENs for domain events (events.py) and subscribes to Redis broadcasts;
- is listed in the registry: a file in INSTANCE_DIR, and a Redis key kept
  fresh by a heartbeat.
"""

import fcntl
import json
import os
import select
import socket
import threading
import time

import psycopg2
import redis
from django.conf import settings

from . import events

MAINTENANCE_LOCK = 72_001
HEARTBEAT_SECONDS = 0.1
REGISTRY_TTL_MS = 30_000
REGISTRY_PREFIX = "shop:instance:"
BROADCAST_CHANNEL = "shop:broadcast"


class Instance:
    def __init__(self):
        self.name = f"{socket.gethostname()}-{os.getpid()}"
        self.broadcasts = []
        self._pg_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    @property
    def registry_key(self):
        return REGISTRY_PREFIX + self.name

    @property
    def registry_file(self):
        return os.path.join(settings.INSTANCE_DIR, f"{self.name}.json")

    def start(self):
        self.pg = psycopg2.connect(settings.EVENTS_DATABASE_URL, application_name="shop-instance")
        self.pg.autocommit = True
        with self.pg.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.backend_pid = cursor.fetchone()[0]
            cursor.execute(f"LISTEN {events.CHANNEL}")
        self.lock_file = open(settings.MAINTENANCE_LOCK_FILE, "a")
        self.resume()
        self.registry = redis.Redis.from_url(f"{settings.REDIS_URL}/1", client_name="shop-instance")
        self.counters = redis.Redis.from_url(f"{settings.REDIS_URL}/0", client_name="shop-instance")
        self.pubsub = self.registry.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(BROADCAST_CHANNEL)
        os.makedirs(settings.INSTANCE_DIR, exist_ok=True)
        with open(self.registry_file, "w") as f:
            json.dump({"name": self.name, "pid": os.getpid(), "started": time.time()}, f)
        self.heartbeat()
        self._thread = threading.Thread(target=self._run, name="shop-instance", daemon=True)
        self._thread.start()
        return self

    def heartbeat(self):
        self.registry.set(self.registry_key, json.dumps({"pid": os.getpid()}), px=REGISTRY_TTL_MS)

    def pause(self):
        """Let go of the shared maintenance locks (a maintenance job in this process)."""
        with self._pg_lock, self.pg.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_shared(%s)", [MAINTENANCE_LOCK])
        fcntl.flock(self.lock_file, fcntl.LOCK_UN)

    def resume(self):
        with self._pg_lock, self.pg.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock_shared(%s)", [MAINTENANCE_LOCK])
        fcntl.flock(self.lock_file, fcntl.LOCK_SH)

    def stop(self):
        self._stop.set()
        self._thread.join()
        self.registry.delete(self.registry_key)
        os.unlink(self.registry_file)
        self.pubsub.close()
        self.lock_file.close()
        self.pg.close()

    def _run(self):
        last_beat = 0.0
        while not self._stop.is_set():
            readable, _, _ = select.select([self.pg], [], [], HEARTBEAT_SECONDS / 2)
            if readable:
                with self._pg_lock:
                    self.pg.poll()
                    received, self.pg.notifies[:] = list(self.pg.notifies), []
                for notify in received:
                    events.dispatch(notify.payload, self.counters)
            while (message := self.pubsub.get_message()) is not None:
                self.broadcasts.append(message["data"].decode())
            if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                self.heartbeat()
                last_beat = time.monotonic()


_current = None


def start():
    global _current
    _current = Instance().start()
    return _current


def current():
    return _current


def stop():
    global _current
    _current.stop()
    _current = None
