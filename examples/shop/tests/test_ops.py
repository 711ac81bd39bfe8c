"""Operator views of the running shop: the instance registry, databases, Redis clients."""

import os
import socket
import time

import pytest
from django.core.cache import caches
from django.db import connection

from shop import instance, ops

pytestmark = pytest.mark.django_db


def test_instance_name_names_host_and_pid(shop_instance):
    assert shop_instance.name == f"{socket.gethostname()}-{os.getpid()}"


def test_registry_file_describes_this_process(shop_instance):
    entries = {entry["name"]: entry for entry in ops.running_instances()}
    assert entries[shop_instance.name]["pid"] == os.getpid()


def test_instances_endpoint_lists_running_instances(client, shop_instance):
    body = client.get("/api/ops/instances").json()
    assert set(body) == {"registered", "running"}
    assert shop_instance.name in body["running"]


def test_registry_key_names_the_instance(shop_instance):
    assert shop_instance.registry_key == f"{instance.REGISTRY_PREFIX}{shop_instance.name}"


@pytest.mark.isolation
def test_running_instances_lists_only_this_process(shop_instance):
    # INSTANCE_DIR is a fixed path: every process on the machine registers there.
    assert [entry["name"] for entry in ops.running_instances()] == [shop_instance.name]


@pytest.mark.isolation
def test_registry_lists_only_this_instance_across_heartbeats(shop_instance):
    seen = []
    for _ in range(4):
        seen.append(ops.registered_instances())
        time.sleep(instance.HEARTBEAT_SECONDS)
    assert seen == [[shop_instance.name]] * 4


@pytest.mark.isolation
def test_reset_ops_state_keeps_only_live_registrations(shop_instance):
    caches["ops"].set("stats:orders", 41)
    ops.reset_ops_state()
    client = caches["ops"]._cache.get_client()
    assert sorted(key.decode() for key in client.keys("*")) == [shop_instance.registry_key]


@pytest.mark.isolation
def test_cluster_has_only_the_shop_databases():
    assert ops.databases() == sorted(["postgres", "shop", connection.settings_dict["NAME"]])


@pytest.mark.isolation
def test_cache_keeps_one_pooled_redis_connection():
    caches["default"].set("ops:probe", 1)
    assert ops.redis_clients("shop-cache") == 1
