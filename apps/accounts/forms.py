from django import forms

from apps.accounts.selectors import country_choices
from apps.accounts.services import AddressData
from apps.core.forms import address_autocomplete


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


address_autocomplete(AddressForm)
