"""Payments against the provider's stand-in (payments/stub.py)."""

import uuid

import pytest
from django.test import override_settings

from orders import services as checkout
from payments import gateway, services
from payments.models import Payment

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(make_customer, stocked_product):
    return checkout.place_order(make_customer(), [(stocked_product(price_cents=2500), 2)])


@pytest.fixture
def orders(make_customer, stocked_product):
    def make(n):
        customer, product = make_customer(), stocked_product(quantity=1000)
        return [checkout.place_order(customer, [(product, 1 + i % 3)]) for i in range(n)]

    return make


def test_charge_succeeds(db):
    result = gateway.charge(1000, "tok_visa", "key-charge-1")
    assert (result["status"], result["amount"]) == ("succeeded", 1000)
    assert result["id"].startswith("ch_")


def test_declined_card_raises(db):
    with pytest.raises(gateway.Declined, match="card declined"):
        gateway.charge(1000, "tok_declined", "key-declined-1")


def test_busy_provider_is_retried(db):
    assert gateway.charge(500, "tok_busy_2", "key-busy-2")["status"] == "succeeded"


@pytest.mark.slow
def test_provider_busy_for_too_long_is_an_error(db):
    with pytest.raises(gateway.Busy):
        gateway.charge(500, "tok_busy_9", "key-busy-9")


def test_refund_of_unknown_charge_is_an_error(db):
    with pytest.raises(gateway.GatewayError, match="HTTP 404"):
        gateway.refund("nope", 100, "key-refund-x")


def test_unreachable_gateway_is_a_gateway_error(db):
    with override_settings(PAYMENT_GATEWAY_URL="http://127.0.0.1:9"):
        with pytest.raises(gateway.GatewayError):
            gateway.charge(100, "tok_visa", "key-unreachable")


def test_capture_marks_the_order_paid(order):
    payment = services.capture(order, "tok_visa")
    order.refresh_from_db()
    assert (payment.status, order.status) == (Payment.Status.CAPTURED, "paid")
    assert payment.amount_cents == order.total_cents


def test_capture_keeps_the_reference(order):
    assert services.capture(order, "tok_visa").reference.startswith("ch_")


def test_declined_capture_leaves_the_order_pending(order):
    payment = services.capture(order, "tok_declined")
    order.refresh_from_db()
    assert (payment.status, order.status) == (Payment.Status.DECLINED, "pending")


def test_capture_twice_is_refused(order):
    services.capture(order, "tok_visa")
    order.refresh_from_db()
    with pytest.raises(ValueError, match="paid"):
        services.capture(order, "tok_visa")


def test_refund(order):
    payment = services.refund(services.capture(order, "tok_visa"))
    assert payment.status == Payment.Status.REFUNDED


def test_refund_of_a_declined_payment_is_refused(order):
    with pytest.raises(ValueError, match="declined"):
        services.refund(services.capture(order, "tok_declined"))


def test_idempotency_keys_differ_by_action(order):
    assert services.idempotency_key(order, "charge") != services.idempotency_key(order, "refund")


def test_idempotency_key_names_the_order(order):
    assert services.idempotency_key(order, "charge").startswith(f"order-{order.pk}-")


def test_capture_batch_counts_outcomes(orders):
    assert services.capture_batch(orders(4), "tok_visa") == {"captured": 4, "declined": 0}


def test_capture_batch_with_a_bad_card(orders):
    assert services.capture_batch(orders(3), "tok_declined") == {"captured": 0, "declined": 3}


@pytest.mark.parametrize("amount", [1, 99, 100_000])
def test_charge_amounts(db, amount):
    assert gateway.charge(amount, "tok_visa", f"key-amount-{amount}")["amount"] == amount


@pytest.mark.isolation
def test_payout_run_sends_every_charge_to_the_gateway(orders, payment_gateway):
    batch = orders(12)
    services.capture_batch(batch, "tok_visa")
    sent = {services.idempotency_key(o, "charge") for o in batch}
    assert sent <= payment_gateway.keys("/charges")


@pytest.mark.isolation
def test_refund_run_sends_every_refund_to_the_gateway(orders, payment_gateway):
    batch = orders(10)
    for o in batch:
        services.refund(services.capture(o, "tok_visa"))
    sent = {services.idempotency_key(o, "refund") for o in batch}
    assert sent <= payment_gateway.keys("/refunds")


@pytest.mark.isolation
def test_gateway_receives_amounts_in_cents(payment_gateway, db):
    keys = [f"amounts-{uuid.uuid4().hex}" for _ in range(12)]
    for n, key in enumerate(keys):
        gateway.charge(100 + n, "tok_visa", key)
    received = {r["key"]: r["body"]["amount"] for r in payment_gateway.received if r["key"] in keys}
    assert received == {key: 100 + n for n, key in enumerate(keys)}


@pytest.mark.isolation
def test_declines_are_recorded_by_the_gateway(orders, payment_gateway):
    batch = orders(12)
    services.capture_batch(batch, "tok_declined")
    declined = [r for r in payment_gateway.received if r["body"].get("source") == "tok_declined"]
    assert {services.idempotency_key(o, "charge") for o in batch} <= {r["key"] for r in declined}
