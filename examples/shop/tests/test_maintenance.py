"""The maintenance window: exclusive once no other instance is running."""

import fcntl

import pytest
from django.conf import settings

from shop import instance, ops

pytestmark = pytest.mark.django_db


def test_window_returns_both_lock_kinds():
    with ops.maintenance_window() as got:
        assert set(got) == {"advisory", "file"}


def test_instance_holds_its_shared_lock_again_after_the_window(shop_instance):
    with ops.maintenance_window():
        pass
    with open(settings.MAINTENANCE_LOCK_FILE, "a") as f:
        with pytest.raises(BlockingIOError):
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


@pytest.mark.isolation
def test_maintenance_window_gets_the_advisory_lock():
    with ops.maintenance_window() as got:
        assert got["advisory"] is True


@pytest.mark.isolation
def test_maintenance_window_gets_the_file_lock():
    # MAINTENANCE_LOCK_FILE is a fixed path shared by every process on the machine.
    with ops.maintenance_window() as got:
        assert got["file"] is True


@pytest.mark.isolation
def test_only_this_instance_holds_the_maintenance_lock(shop_instance):
    assert ops.maintenance_lock_holders() == [shop_instance.backend_pid]
    assert instance.MAINTENANCE_LOCK > 0
