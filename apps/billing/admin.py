"""Payments and refunds: records of money that moved at Stripe.

Read-only and never deletable in admin: the rows are how a refund or a
dispute is reconciled, and Stripe keeps its own copy regardless.
"""

from django.contrib import admin

from apps.billing.models import Payment, PaymentRefund
from apps.core.admin_display import RecordAdminMixin, money_column


class PaymentRefundInline(RecordAdminMixin, admin.TabularInline):
    model = PaymentRefund
    extra = 0
    can_delete = False
    fields = ("refund_id", "amount", "status", "reason", "created_at")
    readonly_fields = fields

    amount = money_column("amount_minor", "amount", currency_from="payment.currency")


@admin.register(Payment)
class PaymentAdmin(RecordAdminMixin, admin.ModelAdmin):
    list_display = (
        "intent_id",
        "reference",
        "status",
        "amount",
        "refunded",
        "created_at",
    )
    list_filter = ("status", "currency", "created_at")
    search_fields = ("intent_id", "reference")
    fields = (
        "reference",
        "intent_id",
        "status",
        "amount",
        "refunded",
        "currency",
        "idempotency_key",
        "last_error",
        "succeeded_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = [PaymentRefundInline]

    amount = money_column("amount_minor", "amount", sort=True)
    refunded = money_column("amount_refunded_minor", "refunded", sort=True)

    def has_change_permission(self, request, obj=None):
        # The change page is the detail view; nothing on it is editable.
        return False
