"""What operators ask a running shop: health, instances, the maintenance window."""

import fcntl
import json
import os
import time
from contextlib import contextmanager

import psycopg2
from django.conf import settings
from django.core.cache import caches
from django.db import connection

from . import instance


def db_connections():
    """Open sessions of the web application's pool (application_name 'shop')."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'shop' AND usename = current_user")
        return cursor.fetchone()[0]


def listener_sessions():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'shop-instance'")
        return cursor.fetchone()[0]


def databases():
    with connection.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY datname")
        return [row[0] for row in cursor.fetchall()]


def maintenance_lock_holders():
    """Backend pids holding the maintenance advisory lock, in any mode."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted ORDER BY pid",
            [instance.MAINTENANCE_LOCK],
        )
        return [row[0] for row in cursor.fetchall()]


def redis_clients(name):
    client = caches["default"]._cache.get_client()
    return sum(1 for c in client.client_list() if c.get("name") == name)


def registered_instances():
    """Instance names from the Redis registry."""
    client = caches["ops"]._cache.get_client()
    names = [key.decode().removeprefix(instance.REGISTRY_PREFIX) for key in client.scan_iter(f"{instance.REGISTRY_PREFIX}*")]
    return sorted(names)


def running_instances():
    """Instances from their files in INSTANCE_DIR."""
    found = []
    for entry in sorted(os.listdir(settings.INSTANCE_DIR)):
        with open(os.path.join(settings.INSTANCE_DIR, entry)) as f:
            found.append(json.load(f))
    return found


def reset_ops_state(settle=5 * instance.HEARTBEAT_SECONDS):
    """Drop all operational state; live instances register again at their next heartbeat."""
    caches["ops"].clear()
    if (me := instance.current()) is not None:
        me.heartbeat()
    time.sleep(settle)


def broadcast(message):
    """Send a message to every instance; returns how many received it."""
    client = caches["ops"]._cache.get_client(write=True)
    return client.publish(instance.BROADCAST_CHANNEL, message)


def health():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {
        "database": "ok",
        "db_connections": db_connections(),
        "redis_clients": redis_clients("shop-cache"),
        "instances": len(registered_instances()),
    }


@contextmanager
def maintenance_window():
    """Hold the maintenance lock exclusively, if no other instance is running.

    Yields whether the window was obtained (both the advisory and the file
    lock); this process's own instance steps aside meanwhile.
    """
    me = instance.current()
    if me is not None:
        me.pause()
    conn = psycopg2.connect(settings.EVENTS_DATABASE_URL, application_name="shop-maintenance")
    lock_file = open(settings.MAINTENANCE_LOCK_FILE, "a")
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [instance.MAINTENANCE_LOCK])
            advisory = cursor.fetchone()[0]
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            file_locked = True
        except BlockingIOError:
            file_locked = False
        yield {"advisory": advisory, "file": file_locked}
    finally:
        lock_file.close()
        conn.close()
        if me is not None:
            me.resume()
