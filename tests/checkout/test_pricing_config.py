"""The cached pricing setup: read once, stale as soon as staff change it."""

import pytest
from django.db import transaction

from apps.checkout.models import ShippingMethod, TaxRate, TaxSettings
from apps.checkout.services import pricing_config as pricing_config_module
from apps.checkout.services.pricing import prices_include_tax, shipping_quotes
from apps.checkout.services.pricing_config import pricing_config
from tests.checkout.factories import (
    ShippingMethodFactory,
    TaxRateFactory,
    WeightBandFactory,
)

pytestmark = pytest.mark.django_db


def _quotes(weight_grams=500):
    return shipping_quotes(
        country="US", currency="USD", subtotal_minor=1000, weight_grams=weight_grams
    )


def test_pricing_config_cached_read_costs_no_query(django_assert_num_queries):
    band = WeightBandFactory(price_minor=700)
    TaxRateFactory(country="US", basis_points=800)
    pricing_config()

    with django_assert_num_queries(0):
        config = pricing_config()
        quotes = _quotes()

    assert [r.basis_points for r in config.tax_rates] == [800]
    assert [(q.id, q.price_minor) for q in quotes] == [(band.method_id, 700)]


@pytest.mark.parametrize("change", ["save", "delete"])
def test_pricing_config_edit_makes_cached_copy_stale(change):
    method = ShippingMethodFactory(price_minor=500)
    rate = TaxRateFactory(country="US", basis_points=800)
    assert [q.price_minor for q in _quotes()] == [500]
    assert len(pricing_config().tax_rates) == 1

    if change == "save":
        method.price_minor = 900
        method.save()
        rate.basis_points = 1000
        rate.save()
        assert [q.price_minor for q in _quotes()] == [900]
        assert [r.basis_points for r in pricing_config().tax_rates] == [1000]
    else:
        method.delete()
        rate.delete()
        assert _quotes() == []
        assert pricing_config().tax_rates == ()


def test_pricing_config_tax_settings_and_deactivation_seen_at_once():
    method = ShippingMethodFactory()
    assert prices_include_tax() is False
    assert len(_quotes()) == 1

    TaxSettings.objects.update_or_create(pk=1, defaults={"prices_include_tax": True})
    method.is_active = False
    method.save(update_fields=["is_active"])

    assert prices_include_tax() is True
    assert _quotes() == []


def test_pricing_config_read_before_commit_not_kept_after_it(
    django_capture_on_commit_callbacks,
):
    # A request may cache the old rows between the edit's bump and its
    # commit: the bump after commit makes that copy stale too.
    ShippingMethodFactory(price_minor=500)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        TaxRate.objects.create(country="US", name="VAT", basis_points=500)
        pricing_config()  # cached under the version bumped by the save
        ShippingMethod.objects.update(price_minor=600)  # no signal
    # The commit bumped again: the update() above (no signal) is seen.
    assert [q.price_minor for q in _quotes()] == [600]


def test_pricing_config_kept_in_process_while_current_and_young(monkeypatch):
    ShippingMethodFactory()
    first = pricing_config()
    assert pricing_config() is first  # no round trip, no unpickling

    later = first.loaded_at + pricing_config_module.CONFIG_SECONDS
    monkeypatch.setattr(pricing_config_module.time, "time", lambda: later)
    assert pricing_config() is not first  # the process's copy has aged out

    ShippingMethodFactory()  # a change bumps the version: read afresh
    assert len(pricing_config().shipping_methods) == 2
