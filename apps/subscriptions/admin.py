from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from apps.billing import gateway
from apps.core.forms import MoneyInputFormMixin
from apps.subscriptions import selectors, services
from apps.subscriptions.models import Feature, Plan, PlanPrice, PushStatus

PUSH_FIELDS = ("push_status", "pushed_at", "push_error")


def push_state(row: Plan | PlanPrice) -> str:
    if row.push_status == PushStatus.SYNCED:
        return f"synced at {row.pushed_at:%Y-%m-%d %H:%M}"
    if row.push_status == PushStatus.ERROR:
        return f"error: {row.push_error}"
    return "pending"


def _field_errors(validate: Any, name: str, value: Any) -> Any:
    # The services name the field; a clean_<field> must raise bare messages.
    try:
        return validate(**{name: value})
    except ValidationError as exc:
        raise ValidationError(exc.message_dict[name]) from exc


class PlanAdminForm(forms.ModelForm):
    class Meta:
        model = Plan
        fields = (
            "slug",
            "name",
            "description",
            "sort_order",
            "visibility",
            "status",
            "trial_days",
            "features",
            "limits",
        )

    def clean_features(self) -> Any:
        value = self.cleaned_data["features"]
        return _field_errors(services.plan_features_validate, "features", value)

    def clean_limits(self) -> Any:
        value = self.cleaned_data["limits"]
        return _field_errors(services.plan_limits_validate, "limits", value)


class PlanPriceForm(MoneyInputFormMixin, forms.ModelForm):
    money_fields = ("amount_minor",)
    money_currency_owner = "price"

    class Meta:
        model = PlanPrice
        fields = ("interval", "interval_count", "amount_minor", "currency", "active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and selectors.price_is_used(price=self.instance):
            for name in ("interval", "interval_count", "currency"):
                self.fields[name].disabled = True
            self.fields["amount_minor"].help_text = (
                "Subscribers use this price: a new amount creates a new price and "
                "archives this one; existing subscribers keep this amount."
            )


class PlanPriceInline(admin.TabularInline):
    model = PlanPrice
    form = PlanPriceForm
    extra = 0
    fields = (
        "interval",
        "interval_count",
        "amount_minor",
        "currency",
        "active",
        "used_at",
        "grandfathering",
        "stripe_price_id",
        "pushed_as",
        "push_state_display",
    )
    readonly_fields = (
        "used_at",
        "grandfathering",
        "stripe_price_id",
        "pushed_as",
        "push_state_display",
    )
    can_delete = False

    @admin.display(description="Amount change")
    def grandfathering(self, obj: PlanPrice) -> str:
        if obj.pk and selectors.price_is_used(price=obj):
            return (
                "In use: a new amount creates a new price and archives this one; "
                "existing subscribers keep this amount."
            )
        return "Not used yet: the amount changes in place."

    @admin.display(description="Stripe object")
    def pushed_as(self, obj: PlanPrice) -> str:
        if obj.stripe_object == "plan":
            return "pushed as a Plan (localstripe has no Prices)"
        if obj.stripe_object == "price":
            return "pushed as a Price"
        return "-"

    @admin.display(description="Push state")
    def push_state_display(self, obj: PlanPrice) -> str:
        return push_state(obj)


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    form = PlanAdminForm
    inlines = [PlanPriceInline]
    list_display = (
        "name",
        "slug",
        "visibility",
        "status",
        "trial_days",
        "push_state_display",
    )
    list_filter = ("status", "visibility", "push_status")
    search_fields = ("name", "slug")
    readonly_fields = ("stripe_product_id", *PUSH_FIELDS)
    actions = ["push_again"]

    @admin.display(description="Push state")
    def push_state_display(self, obj: Plan) -> str:
        return push_state(obj)

    @admin.action(description="Push again to Stripe (queued)")
    def push_again(self, request: Any, queryset: Any) -> None:
        count = services.plan_mark_pending(
            plan_ids=list(queryset.values_list("pk", flat=True))
        )
        self.message_user(request, f"Queued a Stripe push for {count} plan(s).")

    def save_formset(self, request: Any, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not PlanPrice:
            return super().save_formset(request, form, formset, change)
        for price_form in formset.forms:
            price = price_form.instance
            if (
                price.pk
                and "amount_minor" in price_form.changed_data
                and selectors.price_is_used(price=price)
            ):
                new_amount = price_form.cleaned_data["amount_minor"]
                # Keep the old row untouched; the service replaces it.
                price_form.instance = PlanPrice.objects.get(pk=price.pk)
                result = services.plan_price_change_amount(
                    price=price_form.instance, amount_minor=new_amount
                )
                # The service did this row's write; the formset must not.
                price_form.changed_data.clear()
                if result.replaced is not None:
                    messages.warning(
                        request,
                        f"The {price.interval}ly price was in use: a new price was "
                        "created and the old one archived; existing subscribers "
                        "keep the old amount.",
                    )
        super().save_formset(request, form, formset, change)

    def save_related(
        self, request: Any, form: Any, formsets: Any, change: bool
    ) -> None:
        super().save_related(request, form, formsets, change)
        services.plan_queue_push(plan_id=form.instance.pk)
        if gateway.is_localstripe():
            messages.info(
                request,
                "A Stripe push is queued. On localstripe prices are pushed as "
                "Plans (localstripe has no Prices).",
            )


@admin.register(Feature)
class FeatureAdmin(admin.ModelAdmin):
    list_display = ("key", "label", "kind", "unit", "sort_order")
    search_fields = ("key", "label")
