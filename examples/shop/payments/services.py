from django.db import transaction

from orders.models import Order

from . import gateway
from .models import Payment


def idempotency_key(order, action):
    return f"order-{order.pk}-{order.created.timestamp():.6f}-{action}"


def capture(order, token):
    """Charge the order's total; a declined card leaves the order pending."""
    if order.status != Order.Status.PENDING:
        raise ValueError(f"order {order.pk} is {order.status}")
    try:
        result = gateway.charge(order.total_cents, token, idempotency_key(order, "charge"))
    except gateway.Declined:
        return Payment.objects.create(order=order, amount_cents=order.total_cents, status=Payment.Status.DECLINED)
    with transaction.atomic():
        payment = Payment.objects.create(
            order=order, amount_cents=result["amount"], status=Payment.Status.CAPTURED, reference=result["id"]
        )
        order.status = Order.Status.PAID
        order.save(update_fields=["status"])
    return payment


def refund(payment):
    if payment.status != Payment.Status.CAPTURED:
        raise ValueError(f"payment {payment.pk} is {payment.status}")
    gateway.refund(payment.reference, payment.amount_cents, idempotency_key(payment.order, "refund"))
    payment.status = Payment.Status.REFUNDED
    payment.save(update_fields=["status"])
    return payment


def capture_batch(orders, token):
    """The nightly payout run: capture every pending order, report the outcome."""
    outcome = {"captured": 0, "declined": 0}
    for order in orders:
        payment = capture(order, token)
        outcome["captured" if payment.status == Payment.Status.CAPTURED else "declined"] += 1
    return outcome
