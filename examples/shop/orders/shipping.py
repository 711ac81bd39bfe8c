"""Shipping cost by zone and parcel weight; free above a threshold in the home zone."""

from django.conf import settings

ZONES = {
    "home": {"DE"},
    "eu": {"AT", "BE", "DK", "ES", "FI", "FR", "IE", "IT", "LU", "NL", "PL", "PT", "SE"},
}
# (max grams, cents) per zone; heavier parcels pay per started kilogram above.
TABLES = {
    "home": [(1000, 490), (5000, 690), (10000, 990)],
    "eu": [(1000, 990), (5000, 1490), (10000, 1990)],
    "world": [(1000, 1990), (5000, 3490), (10000, 4990)],
}
PER_EXTRA_KG = {"home": 100, "eu": 200, "world": 500}


def zone_for(country):
    for zone, countries in ZONES.items():
        if country in countries:
            return zone
    return "world"


def cost(country, weight_grams, subtotal_cents=0):
    if weight_grams < 0:
        raise ValueError("weight must not be negative")
    zone = zone_for(country)
    if zone == "home" and subtotal_cents >= settings.FREE_SHIPPING_CENTS:
        return 0
    for max_grams, cents in TABLES[zone]:
        if weight_grams <= max_grams:
            return cents
    last_grams, last_cents = TABLES[zone][-1]
    extra_kg = -(-(weight_grams - last_grams) // 1000)
    return last_cents + extra_kg * PER_EXTRA_KG[zone]


def parcels(weights, limit_grams=20000):
    """Split item weights into parcels under the limit, heaviest first (first fit)."""
    boxes = []
    for weight in sorted(weights, reverse=True):
        if weight > limit_grams:
            raise ValueError(f"an item of {weight} g exceeds the parcel limit")
        for box in boxes:
            if sum(box) + weight <= limit_grams:
                box.append(weight)
                break
        else:
            boxes.append([weight])
    return boxes
