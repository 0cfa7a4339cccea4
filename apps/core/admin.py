from django.contrib import admin

from apps.core.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("kind", "recipient", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status", "kind")
    search_fields = ("recipient", "idempotency_key")
    readonly_fields = [f.name for f in Notification._meta.fields]
