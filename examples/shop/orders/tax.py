"""VAT by destination country, in basis points (1/100 of a percent)."""

VAT_BASIS_POINTS = {
    "AT": 2000, "BE": 2100, "DE": 1900, "DK": 2500, "ES": 2100, "FI": 2550,
    "FR": 2000, "IE": 2300, "IT": 2200, "LU": 1700, "NL": 2100, "PL": 2300,
    "PT": 2300, "SE": 2500,
}
# Outside the EU we ship without VAT.
EXPORT_RATE = 0


class UnknownCountry(ValueError):
    pass


def is_eu(country):
    return country in VAT_BASIS_POINTS


def rate_for(country):
    if len(country) != 2 or not country.isalpha() or not country.isupper():
        raise UnknownCountry(f"not an ISO country code: {country!r}")
    return VAT_BASIS_POINTS.get(country, EXPORT_RATE)


def tax_for(net_cents, country):
    """VAT on a net amount, rounded half up."""
    return (net_cents * rate_for(country) + 5000) // 10000


def net_from_gross(gross_cents, country):
    rate = rate_for(country)
    return (gross_cents * 10000 + (10000 + rate) // 2) // (10000 + rate)
