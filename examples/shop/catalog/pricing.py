"""Prices: coupons, quantity tiers and rounding, all in integer cents."""

from dataclasses import dataclass

# (minimum quantity, percent off), best first.
QUANTITY_TIERS = [(100, 15), (50, 10), (10, 5)]


class InvalidCoupon(ValueError):
    pass


@dataclass(frozen=True)
class Coupon:
    code: str
    percent_off: int = 0
    cents_off: int = 0
    minimum_cents: int = 0

    def __post_init__(self):
        if not 0 <= self.percent_off <= 100:
            raise InvalidCoupon(f"{self.code}: percent_off must be 0..100")
        if self.cents_off < 0:
            raise InvalidCoupon(f"{self.code}: cents_off must not be negative")


def parse_coupon(code):
    """Coupons are codes like SAVE10 (10 %) or OFF500 (5.00 off)."""
    code = code.strip().upper()
    for prefix, field in (("SAVE", "percent_off"), ("OFF", "cents_off")):
        if code.startswith(prefix) and code[len(prefix):].isdigit():
            return Coupon(code, **{field: int(code[len(prefix):])})
    raise InvalidCoupon(f"unknown coupon {code!r}")


def percent_of(cents, percent):
    """`percent` % of `cents`, rounded half up to a whole cent."""
    return (cents * percent + 50) // 100


def tier_discount(quantity):
    for minimum, percent in QUANTITY_TIERS:
        if quantity >= minimum:
            return percent
    return 0


def line_price(unit_cents, quantity):
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    gross = unit_cents * quantity
    return gross - percent_of(gross, tier_discount(quantity))


def apply_coupon(subtotal_cents, coupon):
    if coupon is None:
        return subtotal_cents
    if subtotal_cents < coupon.minimum_cents:
        raise InvalidCoupon(f"{coupon.code} needs a subtotal of {coupon.minimum_cents} cents")
    discounted = subtotal_cents - percent_of(subtotal_cents, coupon.percent_off) - coupon.cents_off
    return max(discounted, 0)


def format_cents(cents, currency="EUR"):
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100:,}.{cents % 100:02d} {currency}"
