"""MoneyInputFormMixin: decimal input in the row's currency, minor units out.

PercentField: a percentage in, basis points out.
"""

import pytest
from django import forms

from apps.core.forms import MoneyAmountField, MoneyInputFormMixin, PercentField


class _PriceForm(MoneyInputFormMixin, forms.Form):
    money_fields = ("price_minor", "compare_at_price_minor", "missing_minor")
    money_currency_owner = "item"

    price_minor = forms.IntegerField()
    compare_at_price_minor = forms.IntegerField(required=False)
    currency = forms.CharField(max_length=3)


class _BandForm(MoneyInputFormMixin, forms.Form):
    money_fields = ("price_minor",)
    money_currency_field = None

    price_minor = forms.IntegerField()


def test_money_form_replaces_minor_fields_with_labelled_decimal_fields():
    form = _PriceForm()

    field = form.fields["price_minor"]
    assert isinstance(field, MoneyAmountField)
    assert field.label == "Price (in the item's currency)"
    assert field.required
    assert "item's currency" in field.help_text
    assert not form.fields["compare_at_price_minor"].required
    assert "missing_minor" not in form.fields


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [(1999, "USD", "19.99"), (1200, "JPY", "1200"), (0, "EUR", "0.00")],
)
def test_money_form_initial_minor_units_shown_as_decimal(minor, currency, shown):
    form = _PriceForm(initial={"price_minor": minor, "currency": currency})

    assert str(form["price_minor"].value()) == shown
    assert f'value="{shown}"' in str(form["price_minor"])


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("19.99", "USD", 1999),
        ("19", "USD", 1900),
        (" 19.90 ", "EUR", 1990),
        ("1200", "JPY", 1200),
        ("1200", "jpy", 1200),
        ("0", "USD", 0),
    ],
)
def test_money_form_valid_amount_cleans_to_minor_units(text, currency, minor):
    form = _PriceForm(data={"price_minor": text, "currency": currency})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["price_minor"] == minor
    assert form.cleaned_data["compare_at_price_minor"] is None


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("19.999", "USD", "USD has 2 decimal places: 19.999 has more."),
        ("12.5", "JPY", "JPY has no decimal places: enter a whole amount, not 12.5."),
        ("-1", "USD", "Enter an amount of zero or more."),
        ("abc", "USD", "Enter an amount as a plain number"),
        ("$19.99", "USD", "Enter an amount as a plain number"),
        ("1,999.00", "USD", "Enter an amount as a plain number"),
        ("NaN", "USD", "Enter an amount as a plain number"),
        ("1E+1000000", "USD", "no more than 18 digits"),
        ("999999999999999999", "USD", "That amount is too large."),
    ],
)
def test_money_form_bad_amount_is_an_error_on_the_field(text, currency, message):
    form = _PriceForm(data={"price_minor": text, "currency": currency})

    assert not form.is_valid()
    assert list(form.errors) == ["price_minor"]
    assert message in form.errors["price_minor"][0]
    assert "price_minor" not in form.cleaned_data


def test_money_form_uses_the_submitted_currency_not_the_initial_one():
    form = _PriceForm(
        initial={"price_minor": 1999, "currency": "USD"},
        data={"price_minor": "1200", "currency": "JPY"},
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["price_minor"] == 1200


def test_money_form_without_a_valid_currency_does_not_guess():
    form = _PriceForm(data={"price_minor": "19.99", "currency": ""})

    assert not form.is_valid()
    assert "currency" in form.errors
    assert "Enter a valid currency" in form.errors["price_minor"][0]


def test_money_form_given_currency_is_used_for_input_and_initial():
    shown = _BandForm(initial={"price_minor": 1200}, money_currency="JPY")
    posted = _BandForm(data={"price_minor": "12.5"}, money_currency="JPY")

    assert str(shown["price_minor"].value()) == "1200"
    assert shown.fields["price_minor"].label == "Price (in the row's currency)"
    assert not posted.is_valid()
    assert "JPY has no decimal places" in posted.errors["price_minor"][0]


class _DefaultsForm(MoneyInputFormMixin, forms.Form):
    """A new row's form: the model defaults are field initials, not form ones."""

    money_fields = ("price_minor",)

    price_minor = forms.IntegerField(initial=0)
    currency = forms.CharField(max_length=3, initial="JPY")


def test_money_form_field_default_shown_in_the_default_currency():
    form = _DefaultsForm()

    assert 'value="0"' in str(form["price_minor"])
    assert _DefaultsForm(initial={"currency": "USD"})["price_minor"].value() == 0
    assert 'value="0.00"' in str(
        _DefaultsForm(initial={"currency": "USD"})["price_minor"]
    )


def test_money_form_unchanged_decimal_is_not_reported_as_changed():
    form = _PriceForm(
        initial={"price_minor": 1999, "currency": "USD"},
        data={"price_minor": "19.99", "currency": "USD"},
    )

    assert form.changed_data == []


class _RateForm(forms.Form):
    rate = PercentField()
    cap = PercentField(required=False)


@pytest.mark.parametrize(
    ("text", "basis_points"),
    [
        ("12.5", 1250),
        ("12.50", 1250),
        ("12.500", 1250),
        ("10", 1000),
        (" 0.01 ", 1),
        ("100", 10_000),
    ],
)
def test_percent_field_cleans_a_percentage_to_basis_points(text, basis_points):
    form = _RateForm(data={"rate": text})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["rate"] == basis_points
    assert form.cleaned_data["cap"] is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("12.345", "at most 2 decimal places, e.g. 12.25, not 12.345"),
        ("0.001", "at most 2 decimal places"),
        ("101", "at most 100"),
        ("100.01", "at most 100"),
        ("0", "above 0"),
        ("-5", "above 0"),
        ("12.5%", "Enter a percentage as a plain number"),
        ("NaN", "Enter a percentage as a plain number"),
        ("1E-1000000", "no more than 18 digits"),
        ("", "This field is required."),
    ],
)
def test_percent_field_bad_percentage_is_an_error_on_the_field(text, message):
    form = _RateForm(data={"rate": text})

    assert not form.is_valid()
    assert list(form.errors) == ["rate"]
    assert message in form.errors["rate"][0]


@pytest.mark.parametrize(
    ("basis_points", "shown"), [(1250, "12.5"), (1000, "10"), (1, "0.01")]
)
def test_percent_field_initial_basis_points_shown_as_percent(basis_points, shown):
    form = _RateForm(initial={"rate": basis_points})

    assert f'value="{shown}"' in str(form["rate"])


def test_percent_field_changed_compares_basis_points():
    unchanged = _RateForm(initial={"rate": 1250}, data={"rate": "12.50"})
    changed = _RateForm(initial={"rate": 1250}, data={"rate": "12.6"})

    assert unchanged.changed_data == []
    assert changed.changed_data == ["rate"]
