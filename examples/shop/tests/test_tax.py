"""VAT by destination."""

import pytest

from orders import tax


@pytest.mark.parametrize(
    "country,basis_points",
    [("DE", 1900), ("FR", 2000), ("IT", 2200), ("LU", 1700), ("DK", 2500), ("FI", 2550), ("US", 0), ("GB", 0), ("JP", 0)],
)
def test_rate_for(country, basis_points):
    assert tax.rate_for(country) == basis_points


@pytest.mark.parametrize("country", ["de", "DEU", "", "D1", "1D"])
def test_bad_country_codes(country):
    with pytest.raises(tax.UnknownCountry):
        tax.rate_for(country)


@pytest.mark.parametrize(
    "net,country,vat",
    [(10000, "DE", 1900), (1, "DE", 0), (3, "DE", 1), (999, "FI", 255), (12345, "LU", 2099), (10000, "US", 0), (0, "FR", 0)],
)
def test_tax_for(net, country, vat):
    assert tax.tax_for(net, country) == vat


@pytest.mark.parametrize("gross,country,net", [(11900, "DE", 10000), (12000, "FR", 10000), (100, "US", 100), (1, "DE", 1)])
def test_net_from_gross(gross, country, net):
    assert tax.net_from_gross(gross, country) == net


@pytest.mark.parametrize("country", ["DE", "FR", "IE", "SE", "US"])
def test_gross_and_net_round_trip_within_a_cent(country):
    for net in range(0, 5000, 37):
        gross = net + tax.tax_for(net, country)
        assert abs(tax.net_from_gross(gross, country) - net) <= 1


def test_is_eu():
    assert tax.is_eu("NL") and not tax.is_eu("NO")


@pytest.mark.slow
def test_a_year_of_invoices_reconciles():
    # Tax per invoice, summed, stays within a cent per invoice of tax on the sum.
    invoices = [(n * 7919) % 50_000 + 1 for n in range(60_000)]
    for country in ("DE", "FR", "FI", "LU"):
        per_invoice = sum(tax.tax_for(net, country) for net in invoices)
        assert abs(per_invoice - tax.tax_for(sum(invoices), country)) <= len(invoices)
