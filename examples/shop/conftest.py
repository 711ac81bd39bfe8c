import os
import time
import uuid

import pytest
from django.conf import settings

from catalog.models import Category, Product
from inventory.models import StockLevel, Warehouse
from orders.models import Customer
from payments.stub import GatewayStub
from shop import instance


@pytest.fixture(scope="session", autouse=True)
def shop_instance():
    """Register the test process as a running instance, as gunicorn's post_fork does."""
    me = instance.start()
    yield me
    instance.stop()


@pytest.fixture(scope="session", autouse=True)
def payment_gateway():
    """The payment provider's stand-in, on the port the settings point at."""
    stub = GatewayStub(settings.PAYMENT_GATEWAY_URL).start()
    yield stub
    stub.stop()


FIRST_TEST_FILE = os.environ.get("SHARDSTACK_FIRST_TEST_FILE")


def pytest_runtest_call(item):
    """With SHARDSTACK_FIRST_TEST_FILE set (bench/e2e sets it), write when the
    first test's body starts, its database set up: the time to first test."""
    global FIRST_TEST_FILE
    if FIRST_TEST_FILE:
        # The first of xdist's workers to get there writes it.
        try:
            with open(FIRST_TEST_FILE, "x") as out:
                out.write(f"{time.time():.3f}\n")
        except FileExistsError:
            pass
        FIRST_TEST_FILE = None


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


@pytest.fixture
def make_category(db):
    def make(name="Tools", slug=None, parent=None):
        return Category.objects.create(name=name, slug=slug or unique(name.lower()).lower(), parent=parent)

    return make


@pytest.fixture
def make_product(db):
    def make(name="Widget", price_cents=1000, category=None, sku=None, **fields):
        return Product.objects.create(sku=sku or unique("SKU"), name=name, price_cents=price_cents, category=category, **fields)

    return make


@pytest.fixture
def make_warehouse(db):
    def make(code=None, country="DE"):
        code = code or uuid.uuid4().hex[:8].upper()
        return Warehouse.objects.create(code=code, name=f"Warehouse {code}", country=country)

    return make


@pytest.fixture
def stock(make_warehouse):
    """Put `quantity` of a product in a (new) warehouse."""

    def put(product, quantity, warehouse=None):
        warehouse = warehouse or make_warehouse()
        return StockLevel.objects.create(product=product, warehouse=warehouse, quantity=quantity)

    return put


@pytest.fixture
def make_customer(db):
    def make(name="Ada Lovelace", country="DE", email=None):
        return Customer.objects.create(email=email or f"{uuid.uuid4().hex[:12]}@example.com", name=name, country=country)

    return make


@pytest.fixture
def stocked_product(make_product, stock):
    def make(price_cents=1000, quantity=100, **fields):
        product = make_product(price_cents=price_cents, **fields)
        stock(product, quantity)
        return product

    return make
