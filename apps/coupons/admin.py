import csv
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.functional import cached_property

from apps.core.forms import MoneyInputFormMixin, PercentField
from apps.core.money import Money, basis_points_as_percent
from apps.coupons import selectors, services
from apps.coupons.models import Coupon, CouponRedemption, StackingSettings


class ExpiredFilter(admin.SimpleListFilter):
    title = "expired"
    parameter_name = "expired"

    def lookups(self, request, model_admin):
        return [("yes", "Expired"), ("no", "Not expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(ends_at__lte=now)
        if self.value() == "no":
            return queryset.exclude(ends_at__lte=now)
        return queryset


class GenerateCodesForm(forms.Form):
    count = forms.IntegerField(min_value=1, max_value=10_000, initial=100)
    # The form metaclass takes declared fields off the class: no clash with
    # BaseForm.prefix at runtime.
    prefix = forms.CharField(max_length=20, required=False)  # type: ignore[assignment]  # a field, not BaseForm.prefix


_PERCENT_KINDS = (Coupon.Kind.PERCENTAGE, Coupon.Kind.BUY_X_GET_Y)
# Coupon.value is a PositiveIntegerField: its stored range, in minor units.
_MAX_VALUE = 2_147_483_647

_VALUE_HELP = (
    "Percentage off and buy X get Y: a percent, e.g. 12.5 for 12.5 % (at most "
    "2 decimal places; 100 = free). Fixed amount off: an amount in the coupon's "
    "currency, e.g. 5.00 for USD, 1200 for JPY. Free shipping: leave empty."
)
_CURRENCY_HELP = (
    "A fixed amount, a minimum subtotal and a maximum discount are amounts in "
    "this currency, and a coupon with any of them applies only to carts in it. "
    "A percentage, buy X get Y or free-shipping coupon without them applies in "
    "any currency."
)


def _percent_text(basis_points: int) -> str:
    return f"{basis_points_as_percent(basis_points)}%"


def coupon_value_text(coupon: Coupon) -> str:
    """Say what the coupon gives: "12.5%", "$5.00 off", "buy 2 get 1 free"."""
    if coupon.kind == Coupon.Kind.PERCENTAGE:
        return _percent_text(coupon.value)
    if coupon.kind == Coupon.Kind.FIXED_AMOUNT:
        return f"{Money(coupon.value, coupon.currency).format()} off"
    if coupon.kind == Coupon.Kind.FREE_SHIPPING:
        return "free shipping"
    if coupon.kind == Coupon.Kind.BUY_X_GET_Y:
        offer = (
            "free"
            if coupon.value >= 10_000
            else f"at {_percent_text(coupon.value)} off"
        )
        return f"buy {coupon.buy_quantity} get {coupon.get_quantity} {offer}"
    return str(coupon.value)


class CouponAdminForm(MoneyInputFormMixin, forms.ModelForm):
    """Staff type percents (12.5) and amounts (5.00), never storage units.

    ``value`` is basis points for percentage and buy X get Y coupons and minor
    units of the coupon's currency for a fixed amount, so its field follows the
    kind: the submitted one when bound, the stored one when shown.
    """

    money_fields = ("minimum_subtotal_minor", "maximum_discount_minor")
    money_currency_owner = "coupon"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The stored values, for the history's before → after (the form's
        # initial holds display values, the instance gets the new ones).
        self.stored = {
            name: getattr(self.instance, name)
            for name in ("kind", "value", "currency", *self.money_fields)
        }
        kind = self._kind()
        if "value" in self.fields:
            if kind in _PERCENT_KINDS:
                self.fields["value"] = PercentField()
            elif kind != Coupon.Kind.FIXED_AMOUNT:
                self.fields["value"] = forms.DecimalField(
                    required=False,
                    min_value=0,
                    widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 10}),
                )
                if kind == Coupon.Kind.FREE_SHIPPING:
                    self.initial["value"] = None
            self.fields["value"].label = "Value"
            self.fields["value"].help_text = _VALUE_HELP
        if "currency" in self.fields:
            currency = self.fields["currency"]
            currency.help_text = _CURRENCY_HELP
            currency.error_messages["required"] = (
                "Enter the coupon's currency (e.g. USD): amounts are in it."
            )
        for name, extra in (
            ("minimum_subtotal_minor", "0 = no minimum."),
            ("maximum_discount_minor", "Empty = no cap."),
        ):
            if name in self.fields:
                self.fields[name].help_text += f" {extra}"

    def _kind(self) -> str | None:
        if self.is_bound:
            return self.data.get(self.add_prefix("kind")) or None
        return self.initial.get("kind") or None

    def get_money_fields(self) -> tuple[str, ...]:
        if self._kind() == Coupon.Kind.FIXED_AMOUNT:
            return ("value", *self.money_fields)
        return self.money_fields

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = cleaned.get("kind")
        value = cleaned.get("value")
        if "value" not in cleaned:
            return cleaned
        if kind == Coupon.Kind.FIXED_AMOUNT and isinstance(value, int):
            if value == 0:
                self.add_error("value", "Enter an amount above zero.")
            elif value > _MAX_VALUE:
                self.add_error("value", "That amount is too large.")
        elif kind == Coupon.Kind.FREE_SHIPPING:
            if value:
                self.add_error("value", "Free shipping has no value: leave this empty.")
            else:
                cleaned["value"] = 0
        return cleaned

    @cached_property
    def changed_data(self) -> list[str]:
        changed = list(super().changed_data)
        # The same number means something else under another kind.
        if "kind" in changed and "value" not in changed and "value" in self.fields:
            changed.append("value")
        return changed

    def change_texts(self, name: str) -> tuple[str, str] | None:
        """Return a changed value and money field as (before, after) text.

        Call after saving; None for the other fields.
        """
        before, after = self.stored, self.instance
        if name == "value":
            return (
                _value_field_text(before["kind"], before["value"], before["currency"]),
                _value_field_text(after.kind, after.value, after.currency),
            )
        if name in self.money_fields:
            return (
                _money_text(before[name], before["currency"]),
                _money_text(getattr(after, name), after.currency),
            )
        return None


def _value_field_text(kind: str, value: int, currency: str) -> str:
    if kind in _PERCENT_KINDS:
        return _percent_text(value)
    if kind == Coupon.Kind.FIXED_AMOUNT:
        return _money_text(value, currency)
    return "none" if not value else str(value)


def _money_text(amount_minor: int | None, currency: str) -> str:
    if amount_minor is None:
        return "none"
    return Money(amount_minor, currency).format()


_REDEMPTION_FIELDS = (
    "target",
    "order_ref",
    "customer_key",
    "discount_minor",
    "currency",
    "created_at",
)


class RedemptionInline(admin.TabularInline):
    model = CouponRedemption
    extra = 0
    can_delete = False
    fields = _REDEMPTION_FIELDS
    readonly_fields = _REDEMPTION_FIELDS
    ordering = ["-created_at"]
    max_num = 0
    show_change_link = True


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    form = CouponAdminForm
    list_display = [
        "code",
        "kind",
        "value_display",
        "applies_to",
        "is_active",
        "starts_at",
        "ends_at",
        "usage_limit",
        "redemption_count",
        "discount_given",
    ]
    list_filter = ["is_active", ExpiredFilter, "kind", "applies_to"]
    search_fields = ["code"]
    readonly_fields = ["times_redeemed", "generated_from", "created_at", "updated_at"]
    # raw ids: the catalogue can be large and needs no admin search to work.
    raw_id_fields = [
        "include_products",
        "exclude_products",
        "include_categories",
        "exclude_categories",
        "include_variants",
        "exclude_variants",
    ]
    inlines = [RedemptionInline]
    actions = ["generate_codes"]
    fieldsets = [
        (None, {"fields": ["code", "kind", "value", "currency", "is_active"]}),
        (
            "Orders and subscriptions",
            {"fields": ["applies_to", "duration", "duration_in_months"]},
        ),
        (
            "Limits",
            {
                "fields": [
                    "minimum_subtotal_minor",
                    "maximum_discount_minor",
                    "starts_at",
                    "ends_at",
                    "usage_limit",
                    "per_customer_limit",
                    "times_redeemed",
                    "is_first_order_only",
                ]
            },
        ),
        ("Stacking", {"fields": ["is_combinable", "priority"]}),
        ("Buy X get Y", {"fields": ["buy_quantity", "get_quantity"]}),
        (
            "Eligible items",
            {
                "fields": [
                    "include_products",
                    "include_variants",
                    "include_categories",
                    "exclude_products",
                    "exclude_variants",
                    "exclude_categories",
                ]
            },
        ),
        ("Origin", {"fields": ["generated_from", "created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        return selectors.coupon_list_with_stats()

    def get_changelist_instance(self, request):
        """Fetch the page's per-currency discount totals in one query."""
        changelist = super().get_changelist_instance(request)
        coupons = list(changelist.result_list)
        totals = selectors.coupon_discount_totals(coupon_ids=[c.pk for c in coupons])
        for coupon in coupons:
            coupon.discount_totals = totals.get(coupon.pk, {})
        return changelist

    @admin.display(description="value")
    def value_display(self, obj) -> str:
        return coupon_value_text(obj)

    @admin.display(ordering="redemption_count", description="redemptions")
    def redemption_count(self, obj) -> int:
        return obj.redemption_count

    @admin.display(description="discount given")
    def discount_given(self, obj) -> str:
        totals = getattr(obj, "discount_totals", None)
        if totals is None:
            totals = selectors.coupon_discount_totals(coupon_ids=[obj.pk]).get(
                obj.pk, {}
            )
        if not totals:
            return Money(0, obj.currency).format()
        # Amounts in different currencies are listed, never added.
        return " + ".join(
            Money(amount, currency).format() for currency, amount in totals.items()
        )

    def construct_change_message(self, request, form, formsets, add=False):
        """Record old → new values, so the history says what changed, not only which."""
        message = super().construct_change_message(request, form, formsets, add)
        if add or not form.changed_data:
            return message
        changes = []
        for name in form.changed_data:
            texts = form.change_texts(name) if hasattr(form, "change_texts") else None
            if texts is not None:
                changes.append(f"{name}: {texts[0]} → {texts[1]}")
                continue
            before = form.initial.get(name)
            after = form.cleaned_data.get(name)
            if hasattr(after, "all") or isinstance(after, (list, tuple)):
                before = sorted(str(o) for o in (before or []))
                after = sorted(str(o) for o in after)
            changes.append(f"{name}: {before!s} → {after!s}")
        return [{"changed": {"fields": changes}}, *message[1:]]

    @admin.action(description="Generate single-use codes from this coupon (CSV)")
    def generate_codes(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(
                request, "Pick exactly one template coupon.", level=messages.ERROR
            )
            return None
        template = queryset.get()
        form = GenerateCodesForm(request.POST if "count" in request.POST else None)
        if form.is_bound and form.is_valid():
            coupons = services.coupon_generate_codes(
                template=template,
                count=form.cleaned_data["count"],
                prefix=form.cleaned_data["prefix"],
            )
            response = HttpResponse(content_type="text/csv")
            response["Content-Disposition"] = (
                f'attachment; filename="coupons-{template.code.lower()}.csv"'
            )
            writer = csv.writer(response)
            writer.writerow(["code", "template", "kind", "value", "ends_at"])
            for coupon in coupons:
                writer.writerow(
                    [
                        coupon.code,
                        template.code,
                        coupon.kind,
                        coupon.value,
                        coupon.ends_at.isoformat() if coupon.ends_at else "",
                    ]
                )
            return response
        return TemplateResponse(
            request,
            "coupons/admin_generate_codes.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Generate codes from {template.code}",
                "template_coupon": template,
                "form": form,
                "opts": self.model._meta,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(CouponRedemption)
class CouponRedemptionAdmin(admin.ModelAdmin):
    list_display = [
        "coupon",
        "target",
        "order_ref",
        "customer_key",
        "discount_minor",
        "currency",
        "created_at",
    ]
    list_select_related = ["coupon"]
    list_filter = ["target", "created_at"]
    search_fields = ["coupon__code", "order_ref", "customer_key"]
    readonly_fields = [f.name for f in CouponRedemption._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StackingSettings)
class StackingSettingsAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "max_coupons_per_order",
        "percentage_combines_with_fixed",
        "multiple_percentage_combine",
        "free_shipping_combines",
    ]

    def has_add_permission(self, request):
        return not StackingSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
