"""Checkout: price the basket, reserve stock, record the order, announce it."""

from django.db import transaction

from catalog import pricing
from catalog.models import Product
from inventory import services as inventory
from shop import events

from . import shipping, tax
from .models import Order, OrderLine


class CheckoutError(Exception):
    pass


def quote(items, country, coupon_code=""):
    """Price a basket [(product, quantity)] for a destination without saving anything."""
    if not items:
        raise CheckoutError("the basket is empty")
    lines = [(product, qty, pricing.line_price(product.price_cents, qty)) for product, qty in items]
    coupon = pricing.parse_coupon(coupon_code) if coupon_code else None
    subtotal = pricing.apply_coupon(sum(cents for _, _, cents in lines), coupon)
    weight = sum(product.weight_grams * qty for product, qty, _ in lines)
    ship = shipping.cost(country, weight, subtotal)
    vat = tax.tax_for(subtotal + ship, country)
    return {"lines": lines, "subtotal": subtotal, "shipping": ship, "tax": vat, "total": subtotal + ship + vat}


def place_order(customer, items, country=None, coupon_code=""):
    country = country or customer.country
    priced = quote(items, country, coupon_code)
    with transaction.atomic():
        order = Order.objects.create(
            customer=customer,
            country=country,
            coupon=coupon_code.upper(),
            subtotal_cents=priced["subtotal"],
            shipping_cents=priced["shipping"],
            tax_cents=priced["tax"],
            total_cents=priced["total"],
        )
        for product, qty, cents in priced["lines"]:
            try:
                inventory.reserve(product, qty, prefer_country=country)
            except inventory.OutOfStock as e:
                raise CheckoutError(str(e)) from e
            OrderLine.objects.create(order=order, product=product, quantity=qty, unit_cents=product.price_cents, line_cents=cents)
    return order


def cancel(order):
    if order.status not in (Order.Status.PENDING, Order.Status.PAID):
        raise CheckoutError(f"cannot cancel a {order.status} order")
    with transaction.atomic():
        for line in order.lines.select_related("product"):
            for level in line.product.stock.select_related("warehouse").filter(reserved__gt=0):
                give_back = min(level.reserved, line.quantity)
                inventory.release(line.product, [(level.warehouse.code, give_back)])
                break
        order.status = Order.Status.CANCELLED
        order.save(update_fields=["status"])
    return order


def items_from_payload(payload):
    """[(Product, quantity)] from an API payload, with clear errors."""
    items = payload.get("items")
    if not isinstance(items, list) or not items:
        raise CheckoutError("items must be a non-empty list")
    skus = [item.get("sku") for item in items]
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus, active=True)}
    result = []
    for item in items:
        product = products.get(item.get("sku"))
        if product is None:
            raise CheckoutError(f"unknown product {item.get('sku')!r}")
        qty = item.get("quantity", 1)
        if not isinstance(qty, int) or qty <= 0:
            raise CheckoutError(f"bad quantity for {product.sku}")
        result.append((product, qty))
    return result


def announce(order):
    return events.publish("order_placed", {"order": order.pk, "total": order.total_cents})
