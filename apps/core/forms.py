"""Admin input of money: staff type 19.99, the row stores 1999 minor units.

``MoneyInputFormMixin`` swaps each listed ``<name>_minor`` integer field of a
form for a decimal text field in the row's currency. It converts back with
``to_minor_exact`` (no rounding: an amount with more decimal places than the
currency has is a form error), so storage stays integer minor units.

The currency is either a field of the same form (``money_currency_field``,
read from the submitted data, so changing both at once works) or given to the
form as ``money_currency=`` (e.g. a parent row's currency, passed by
``MoneyInputInlineFormSet``).

``PercentField`` is the same idea for percentages: staff type 12.5, the row
stores 1250 basis points.
"""

from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.forms.models import BaseInlineFormSet

from apps.core.money import (
    Money,
    basis_points_as_percent,
    currency_exponent,
    scale_exact,
    to_minor_exact,
)

# Keeps absurd input (1E+1000000) out of the integer maths; the stored range
# (a PositiveBigIntegerField, 2**63 - 1 minor units) is checked after conversion.
_MAX_DIGITS = 18
_MAX_MINOR = 2**63 - 1


class MoneyAmountField(forms.DecimalField):
    """A non-negative decimal amount in major units (19.99), currency-agnostic.

    The decimal places allowed depend on the row's currency, so the form
    checks them (``MoneyInputFormMixin.clean``), not this field.
    """

    default_error_messages = {
        "invalid": (
            "Enter an amount as a plain number, e.g. 19.99 "
            "(no currency symbol or thousands separator)."
        ),
        "min_value": "Enter an amount of zero or more.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", Decimal(0))
        kwargs.setdefault("max_digits", _MAX_DIGITS)
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"inputmode": "decimal", "size": 10})
        )
        super().__init__(**kwargs)


if TYPE_CHECKING:
    _FormBase = forms.BaseForm
else:
    _FormBase = object


def _money_label(name: str) -> str:
    return name.removesuffix("_minor").replace("_", " ").capitalize()


class MoneyInputFormMixin(_FormBase):
    """Show ``money_fields`` (``*_minor`` integers) as decimals in a currency.

    Put it before ``forms.ModelForm`` in the bases and list the fields::

        class VariantAdminForm(MoneyInputFormMixin, forms.ModelForm):
            money_fields = ("price_minor", "compare_at_price_minor")
            money_currency_owner = "variant"

    Fields in ``money_fields`` that the form does not have are skipped. A form
    whose money fields depend on other input (a coupon's ``value`` is money
    only for a fixed amount) overrides ``get_money_fields()``.
    """

    money_fields: ClassVar[tuple[str, ...]] = ()
    money_labels: ClassVar[dict[str, str]] = {}
    money_currency_field: ClassVar[str | None] = "currency"
    money_currency_owner: ClassVar[str] = "row"

    def __init__(self, *args: Any, money_currency: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.money_currency = money_currency
        currency = self._initial_currency()
        for name in self.get_money_fields():
            old = self.fields.get(name)
            if old is None:
                continue
            label = self.money_labels.get(name) or _money_label(name)
            self.fields[name] = MoneyAmountField(
                required=old.required,
                label=f"{label} (in the {self.money_currency_owner}'s currency)",
                help_text=(
                    f"An amount in the {self.money_currency_owner}'s currency, "
                    "e.g. 19.99 for USD; whole numbers only for zero-decimal "
                    "currencies such as JPY (1200)."
                ),
            )
            if name in self.initial:
                value = self.initial[name]
                if isinstance(value, int) and currency:
                    # A Decimal, as DecimalField compares it for changed_data;
                    # it renders with the currency's places (19.99, 0.00, 1200).
                    self.initial[name] = Money(value, currency).as_decimal()
            elif isinstance(old.initial, int) and currency:
                # A new row: the model field's default (0) as an amount too.
                self.fields[name].initial = Money(old.initial, currency).as_decimal()

    def get_money_fields(self) -> tuple[str, ...]:
        """Return the fields shown as money; called once the form has its data."""
        return self.money_fields

    def _initial_currency(self) -> str | None:
        if self.money_currency:
            return self.money_currency
        if self.money_currency_field:
            field = self.fields.get(self.money_currency_field)
            default = field.initial if field is not None else None
            currency = self.initial.get(self.money_currency_field, default)
            return currency if isinstance(currency, str) and currency else None
        return None

    def _submitted_currency(self) -> str | None:
        if self.money_currency:
            return self.money_currency
        if self.money_currency_field:
            return self.cleaned_data.get(self.money_currency_field) or None
        return None

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        currency = self._submitted_currency()
        for name in self.get_money_fields():
            value = cleaned.get(name)
            if name not in self.fields or not isinstance(value, Decimal):
                continue
            if not currency:
                self.add_error(name, "Enter a valid currency to check this amount.")
                continue
            try:
                minor = to_minor_exact(value, currency)
            except ValueError:
                self.add_error(name, _places_message(value, currency))
                continue
            if minor > _MAX_MINOR:
                self.add_error(name, "That amount is too large.")
                continue
            cleaned[name] = minor
        return cleaned


def _places_message(value: Decimal, currency: str) -> str:
    code = currency.upper()
    places = currency_exponent(code)
    if places == 0:
        return f"{code} has no decimal places: enter a whole amount, not {value}."
    return f"{code} has {places} decimal places: {value} has more."


class PercentField(forms.DecimalField):
    """A percentage typed as 12.5 and cleaned to basis points (1250).

    Above 0 and at most 100, with at most 2 decimal places (a basis point is
    0.01 %); trailing zeros are fine. The initial value is basis points too
    (stored units), shown as a percent: 1250 → 12.5.
    """

    default_error_messages = {
        "invalid": "Enter a percentage as a plain number, e.g. 12.5 (no % sign).",
        "min_value": "Enter a percentage above 0.",
        "max_value": "Enter a percentage of at most %(limit_value)s.",
        "max_places": (
            "Enter a percentage with at most 2 decimal places, e.g. 12.25, "
            "not %(value)s."
        ),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_value", Decimal(100))
        kwargs.setdefault("max_digits", _MAX_DIGITS)
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"inputmode": "decimal", "size": 6})
        )
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return basis_points_as_percent(value)
        return value

    def clean(self, value: Any) -> int | None:  # basis points, not a Decimal
        percent = super().clean(value)
        if percent is None:
            return None
        if percent <= 0:
            raise forms.ValidationError(
                self.error_messages["min_value"], code="min_value"
            )
        try:
            return scale_exact(percent, 2)
        except ValueError:
            raise forms.ValidationError(
                self.error_messages["max_places"],
                code="max_places",
                params={"value": percent},
            ) from None

    def has_changed(self, initial: Any, data: Any) -> bool:
        if self.disabled:
            return False
        if data in self.empty_values:
            return initial not in self.empty_values
        try:
            return self.clean(data) != initial
        except forms.ValidationError:
            return True


class MoneyInputInlineFormSet(BaseInlineFormSet):
    """Give each inline form its parent's currency (``parent.currency``).

    For children that carry no currency of their own, such as weight bands of
    a shipping method. The parent is the object being edited, including a
    currency changed in the same POST.
    """

    parent_currency_attr = "currency"

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        kwargs = super().get_form_kwargs(index)
        currency = getattr(self.instance, self.parent_currency_attr, None)
        return {**kwargs, "money_currency": currency or None}


# The browser's address autofill keys (WHATWG autocomplete tokens), by the
# field names every address form here uses.
ADDRESS_AUTOCOMPLETE = {
    "name": "name",
    "line1": "address-line1",
    "line2": "address-line2",
    "city": "address-level2",
    "region": "address-level1",
    "postal_code": "postal-code",
    "country": "country",
    "phone": "tel",
}


def address_autocomplete(form_class: type[forms.Form]) -> None:
    """Give an address form's inputs their autofill tokens, once, at import."""
    for name, token in ADDRESS_AUTOCOMPLETE.items():
        form_class.base_fields[name].widget.attrs["autocomplete"] = token
