import csv

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from apps.core.money import Money
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


_REDEMPTION_FIELDS = (
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
    list_display = [
        "code",
        "kind",
        "value",
        "is_active",
        "starts_at",
        "ends_at",
        "usage_limit",
        "redemption_count",
        "discount_given",
    ]
    list_filter = ["is_active", ExpiredFilter, "kind"]
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
        "order_ref",
        "customer_key",
        "discount_minor",
        "currency",
        "created_at",
    ]
    list_select_related = ["coupon"]
    list_filter = ["created_at"]
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
