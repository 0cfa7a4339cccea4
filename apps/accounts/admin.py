from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from apps.accounts import services
from apps.accounts.models import Address, User
from apps.core.admin_site import customer_context
from apps.core.exceptions import ValidationFailed


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "name", "is_staff", "is_active", "date_joined")
    search_fields = ("email", "name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "first_name", "last_name")}),
        (
            "Permissions",
            {
                "fields": (
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                )
            },
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),
    )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The user form, followed by the customer's orders, spend and history."""
        user = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if user is not None:
            context.update(customer_context(request, user))
        return super().change_view(request, object_id, form_url, context)


class AddressAdminForm(forms.ModelForm):
    """Staff edits pass the same postal rules as the shopper's own, so an
    address that checkout would refuse cannot be typed in here instead."""

    class Meta:
        model = Address
        fields = ("user", *services.ADDRESS_FIELDS)

    # Not model fields on this form: the one-default-per-user constraints are
    # kept by the service, which moves a flag from the old default instead of
    # refusing the new one as the model's own constraint check would.
    make_default_shipping = forms.BooleanField(
        required=False, label="Default shipping address"
    )
    make_default_billing = forms.BooleanField(
        required=False, label="Default billing address"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["make_default_shipping"].initial = self.instance.is_default_shipping
        self.fields["make_default_billing"].initial = self.instance.is_default_billing

    def clean(self):
        data = super().clean()
        if self.errors or data is None:  # a required field is missing: say that first
            return data
        try:
            self.normalized = services.address_normalize(
                data=services.AddressData(
                    **{name: data.get(name) or "" for name in services.ADDRESS_FIELDS},
                    is_default_shipping=bool(data.get("make_default_shipping")),
                    is_default_billing=bool(data.get("make_default_billing")),
                )
            )
        except ValidationFailed as exc:
            for field, problems in exc.details.get("fields", {}).items():
                for problem in problems:
                    self.add_error(field if field in self.fields else None, problem)
        return data


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    form = AddressAdminForm
    list_display = (
        "name",
        "user",
        "line1",
        "city",
        "postal_code",
        "country",
        "is_default_shipping",
        "is_default_billing",
    )
    list_filter = ("country", "is_default_shipping", "is_default_billing")
    list_select_related = ("user",)
    search_fields = ("name", "line1", "city", "postal_code", "user__email")
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at", "updated_at")

    def save_model(self, request, obj, form, change):
        if change:
            services.address_update(address=obj, data=form.normalized)
        else:
            saved = services.address_create(user=obj.user, data=form.normalized)
            obj.pk = saved.pk
