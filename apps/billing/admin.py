from django.contrib import admin

from apps.billing.models import Payment, PaymentRefund


class PaymentRefundInline(admin.TabularInline):
    model = PaymentRefund
    extra = 0
    can_delete = False
    readonly_fields = (
        "refund_id",
        "amount_minor",
        "status",
        "reason",
        "idempotency_key",
        "created_at",
    )

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = (
        "intent_id",
        "reference",
        "status",
        "amount_minor",
        "currency",
        "amount_refunded_minor",
        "created_at",
    )
    list_filter = ("status", "currency", "created_at")
    search_fields = ("intent_id", "reference")
    readonly_fields = [f.name for f in Payment._meta.fields if f.name != "id"]
    exclude = ("client_secret",)
    inlines = [PaymentRefundInline]

    def has_add_permission(self, request):
        return False
