"""Storefront checkout forms (plain Forms; services do the validation rules)."""

from typing import TYPE_CHECKING, cast

from django import forms
from django.contrib.auth import password_validation

from apps.accounts.models import User
from apps.accounts.selectors import country_choices
from apps.checkout.countries import served_country_choices
from apps.core.forms import address_autocomplete

if TYPE_CHECKING:
    _FormBase = forms.Form  # what the mixin is mixed into
else:
    _FormBase = object


class ServiceErrorsMixin(_FormBase):
    def add_service_errors(self, fields: dict) -> None:
        for field, messages in fields.items():
            for message in messages if isinstance(messages, list) else [messages]:
                self.add_error(field if field in self.fields else None, message)


class EmailForm(ServiceErrorsMixin, forms.Form):
    email = forms.EmailField(
        label="Email address",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    marketing_consent = forms.BooleanField(
        required=False, label="Send me news and offers"
    )


class GiftDeliveryForm(ServiceErrorsMixin, forms.Form):
    """Who gets the codes of the gift cards in the cart, and when."""

    gift_recipient_email = forms.EmailField(
        required=False,
        label="Send the gift card to",
        help_text="Their email address; leave empty to get the code yourself.",
    )
    gift_message = forms.CharField(
        required=False, max_length=500, label="Message", widget=forms.Textarea
    )
    gift_send_on = forms.DateField(
        required=False,
        label="Send on",
        help_text="Leave empty to send it once the order is paid.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    @classmethod
    def for_cart(cls, data, checkout, view) -> "GiftDeliveryForm | None":
        """The form for a cart with gift cards in it, else None."""
        if not any(line.is_gift_card for line in view.lines):
            return None
        return cls(
            data,
            initial={
                "gift_recipient_email": checkout.gift_recipient_email,
                "gift_message": checkout.gift_message,
                "gift_send_on": checkout.gift_send_on,
            },
        )

    def delivery(self) -> dict:
        """The cleaned fields as checkout_set_gift_delivery takes them."""
        return {
            "recipient_email": self.cleaned_data["gift_recipient_email"],
            "message": self.cleaned_data["gift_message"],
            "send_on": self.cleaned_data["gift_send_on"],
        }


class GiftCardCodeForm(forms.Form):
    code = forms.CharField(
        max_length=64,
        label="Gift card code",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class AddressForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(max_length=150, label="Full name")
    line1 = forms.CharField(max_length=255, label="Address line 1")
    line2 = forms.CharField(max_length=255, required=False, label="Address line 2")
    city = forms.CharField(max_length=128, required=False)
    region = forms.CharField(max_length=128, required=False, label="State / region")
    postal_code = forms.CharField(max_length=32, required=False)
    country = forms.ChoiceField(choices=country_choices, initial="US")
    phone = forms.CharField(
        max_length=32,
        required=False,
        help_text="International format, e.g. +1 415 555 0100.",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    save_to_address_book = forms.BooleanField(
        required=False, label="Save to my address book"
    )

    def address(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("save_to_address_book", None)
        data.pop("same_as_shipping", None)
        return data


address_autocomplete(AddressForm)


class ShippingAddressForm(AddressForm):
    """Only countries a shipping method serves (the billing form has all)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        country = cast(forms.ChoiceField, self.fields["country"])
        country.choices = served_country_choices()


class BillingForm(AddressForm):
    same_as_shipping = forms.BooleanField(
        required=False, label="Same as shipping address"
    )
    field_order = ["same_as_shipping"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.data.get("same_as_shipping"):
            for name in ("name", "line1", "country"):
                self.fields[name].required = False


class ShippingMethodForm(forms.Form):
    shipping_method = forms.TypedChoiceField(
        coerce=int, widget=forms.RadioSelect, label="Delivery"
    )

    def __init__(self, *args, quotes=(), **kwargs):
        super().__init__(*args, **kwargs)
        field = cast(forms.TypedChoiceField, self.fields["shipping_method"])
        field.choices = [(q.id, q.name) for q in quotes]


class FulfilForm(forms.Form):
    carrier = forms.CharField(max_length=64)
    tracking_number = forms.CharField(max_length=128)


class GuestAccountForm(forms.Form):
    """A password for an account under the email a guest order was placed with."""

    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password (again)",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, email: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        cleaned = super().clean() or {}
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first:
            try:
                password_validation.validate_password(first, User(email=self.email))
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class StoreCreditForm(forms.Form):
    """How much store credit to spend, in currency units; blank for all."""

    amount = forms.DecimalField(
        label="Store credit to use",
        required=False,
        min_value=0,
        decimal_places=2,
        help_text="Leave empty to use all your credit; 0 to use none.",
    )
