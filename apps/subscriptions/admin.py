from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse

from apps.billing import gateway
from apps.core.admin_display import RecordAdminMixin, money_column
from apps.core.exceptions import ApplicationError
from apps.core.forms import MoneyInputFormMixin
from apps.core.money import Money
from apps.coupons import selectors as coupon_selectors
from apps.coupons.services.subscription import subscription_ref
from apps.subscriptions import selectors, services
from apps.subscriptions.models import (
    Customer,
    Feature,
    Invoice,
    InvoiceLine,
    Plan,
    PlanAssignment,
    PlanPrice,
    PushStatus,
    ReconcileRun,
    ScheduledChange,
    Subscription,
    SubscriptionEvent,
)
from apps.subscriptions.services import coupons as coupon_services
from apps.subscriptions.services import plan_access
from apps.subscriptions.services import staff as staff_services

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


@admin.register(PlanAssignment)
class PlanAssignmentAdmin(admin.ModelAdmin):
    """Offer a private plan to a customer; they subscribe by its direct link."""

    list_display = ("plan", "user", "assigned_by", "note", "created_at")
    list_filter = ("plan",)
    list_select_related = ("plan", "user", "assigned_by")
    search_fields = ("user__email", "plan__slug", "plan__name")
    autocomplete_fields = ("user",)
    fields = ("plan", "user", "note", "assigned_by", "created_at")

    def get_readonly_fields(self, request: Any, obj: Any = None) -> Any:
        if obj is not None:
            return ("plan", "user", "assigned_by", "created_at")
        return ("assigned_by", "created_at")

    def formfield_for_foreignkey(self, db_field: Any, request: Any, **kwargs: Any):
        if db_field.name == "plan":
            kwargs["queryset"] = Plan.objects.filter(visibility=Plan.Visibility.PRIVATE)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["note", "updated_at"])
            return
        saved = plan_access.plan_assign(
            plan=obj.plan, user=obj.user, assigned_by=request.user, note=obj.note
        )
        obj.pk = saved.pk


@admin.register(Feature)
class FeatureAdmin(admin.ModelAdmin):
    list_display = ("key", "label", "kind", "unit", "sort_order")
    search_fields = ("key", "label")


# --- records: what happened with Stripe, readable, never edited here ---------


class _ViewOnly(RecordAdminMixin):
    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class SubscriptionEventInline(_ViewOnly, admin.TabularInline):
    model = SubscriptionEvent
    extra = 0
    fields = ("created_at", "from_status", "to_status", "reason", "actor", "amount")
    readonly_fields = fields
    amount = money_column("amount_minor", "Amount")


@admin.register(Subscription)
class SubscriptionAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = (
        "__str__",
        "user",
        "plan_name",
        "status",
        "current_period_end",
        "cancel_at_period_end",
    )
    list_filter = ("status", "price__plan")
    list_select_related = ("user", "price__plan")
    search_fields = ("stripe_id", "user__email")
    inlines = [SubscriptionEventInline]
    actions = [
        "cancel_at_period_end",
        "cancel_now",
        "extend_trial",
        "refund_pro_rata",
        "apply_coupon",
        "sync_now",
    ]

    readonly_fields = ("coupons",)

    @admin.display(description="Plan", ordering="price__plan__name")
    def plan_name(self, obj: Subscription) -> str:
        return obj.price.plan.name

    @admin.display(description="Coupons")
    def coupons(self, obj: Subscription) -> str:
        uses = coupon_selectors.redemptions_for_ref(order_ref=subscription_ref(obj.pk))
        return (
            ", ".join(f"{r.coupon.code} ({r.created_at:%d %b %Y})" for r in uses) or "-"
        )

    def _confirm(
        self,
        request: Any,
        queryset: Any,
        *,
        action: str,
        verb: str,
        question: str,
        run: Any,
        ask_days: bool = False,
        ask_coupon: bool = False,
    ) -> Any:
        if request.POST.get("confirmed") != "yes":
            return TemplateResponse(
                request,
                "admin/subscriptions/subscription_confirm.html",
                {
                    **self.admin_site.each_context(request),
                    "title": question,
                    "question": question,
                    "subscriptions": queryset.select_related("user", "price__plan"),
                    "action": action,
                    "verb": verb,
                    "ask_days": ask_days,
                    "ask_coupon": ask_coupon,
                    "opts": self.model._meta,
                },
            )
        done = []
        for sub in queryset:
            try:
                result = run(sub)
            except ApplicationError as exc:
                self.message_user(
                    request, f"{sub}: {exc.message}", level=messages.WARNING
                )
            else:
                done.append(f"{sub}{result or ''}")
        if done:
            self.message_user(request, f"{verb}: {', '.join(done)}.")
        return None

    @admin.action(description="Cancel at period end…")
    def cancel_at_period_end(self, request: Any, queryset: Any) -> Any:
        return self._confirm(
            request,
            queryset,
            action="cancel_at_period_end",
            verb="Cancel at period end",
            question="Cancel these subscriptions at the end of their period?",
            run=lambda sub: (
                staff_services.subscription_staff_cancel(
                    subscription_id=sub.pk, at_period_end=True, staff=request.user
                )
                and None
            ),
        )

    @admin.action(description="Cancel now (no refund)…")
    def cancel_now(self, request: Any, queryset: Any) -> Any:
        return self._confirm(
            request,
            queryset,
            action="cancel_now",
            verb="Cancel now",
            question="End these subscriptions now? Nothing is refunded; use "
            "'Refund last invoice pro rata' for that.",
            run=lambda sub: (
                staff_services.subscription_staff_cancel(
                    subscription_id=sub.pk, at_period_end=False, staff=request.user
                )
                and None
            ),
        )

    @admin.action(description="Extend trial…")
    def extend_trial(self, request: Any, queryset: Any) -> Any:
        raw = request.POST.get("days", "")
        days = int(raw) if raw.isdigit() else 0
        return self._confirm(
            request,
            queryset,
            action="extend_trial",
            verb="Extend trial",
            question="Extend the trial of these subscriptions?",
            ask_days=True,
            run=lambda sub: (
                staff_services.subscription_trial_extend(
                    subscription_id=sub.pk, days=days, staff=request.user
                )
                and f" (by {days} days)"
            ),
        )

    @admin.action(description="Refund last invoice pro rata…")
    def refund_pro_rata(self, request: Any, queryset: Any) -> Any:
        def run(sub: Subscription) -> str:
            amount = staff_services.subscription_refund_pro_rata(
                subscription_id=sub.pk, staff=request.user
            )
            return f" ({Money(amount, sub.price.currency).format()} refunded)"

        return self._confirm(
            request,
            queryset,
            action="refund_pro_rata",
            verb="Refund pro rata",
            question="Refund the unused part of the last paid invoice of these "
            "subscriptions (from when each ended, or now)?",
            run=run,
        )

    @admin.action(description="Apply coupon…")
    def apply_coupon(self, request: Any, queryset: Any) -> Any:
        code = request.POST.get("coupon", "").strip()
        return self._confirm(
            request,
            queryset,
            action="apply_coupon",
            verb="Apply coupon",
            question="Discount the next invoices of these subscriptions with a "
            "coupon? It counts as a use of the coupon and replaces any discount.",
            ask_coupon=True,
            run=lambda sub: (
                coupon_services.subscription_coupon_apply(
                    subscription_id=sub.pk, code=code, staff=request.user
                )
                and f" ({code.upper()})"
            ),
        )

    @admin.action(description="Sync now from Stripe")
    def sync_now(self, request: Any, queryset: Any) -> None:
        count = 0
        for sub in queryset:
            staff_services.subscription_staff_sync(subscription_id=sub.pk)
            count += 1
        self.message_user(request, f"Synced {count} subscription(s) from Stripe.")


class InvoiceLineInline(_ViewOnly, admin.TabularInline):
    model = InvoiceLine
    extra = 0
    fields = ("description", "quantity", "amount", "proration", "period_start")
    readonly_fields = fields
    amount = money_column("amount_minor", "Amount")


@admin.register(Invoice)
class InvoiceAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ("__str__", "user", "status", "total", "paid", "issued_at")
    list_filter = ("status",)
    list_select_related = ("user",)
    search_fields = ("stripe_id", "number", "user__email")
    inlines = [InvoiceLineInline]
    total = money_column("total_minor", "Total", sort=True)
    paid = money_column("amount_paid_minor", "Paid")


@admin.register(ScheduledChange)
class ScheduledChangeAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ("subscription", "to_price", "due_at", "status", "applied_at")
    list_filter = ("status",)
    list_select_related = ("subscription", "to_price")


@admin.register(ReconcileRun)
class ReconcileRunAdmin(_ViewOnly, admin.ModelAdmin):
    """The nightly billing_reconcile runs: what was compared with Stripe."""

    list_display = ("started_at", "finished_at", "checked", "fixed", "failed")
    date_hierarchy = "started_at"


@admin.register(Customer)
class CustomerAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ("stripe_id", "user", "created_at")
    list_select_related = ("user",)
    search_fields = ("stripe_id", "user__email")


from apps.subscriptions import licence_admin  # noqa: E402, F401

# Usage events and the per-customer usage page register in their own module.
from apps.subscriptions.usage import admin as usage_admin  # noqa: E402, F401
