from django.contrib import admin

from apps.carts.models import Cart, CartCoupon, CartLine


class CartLineInline(admin.TabularInline):
    model = CartLine
    extra = 0
    raw_id_fields = ["variant"]
    readonly_fields = ["unit_price_minor", "created_at", "updated_at"]


class CartCouponInline(admin.TabularInline):
    model = CartCoupon
    extra = 0
    raw_id_fields = ["coupon"]


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "status", "currency", "version", "updated_at"]
    list_filter = ["status", "currency"]
    list_select_related = ["user"]
    search_fields = ["id", "user__email"]
    raw_id_fields = ["user"]
    readonly_fields = ["status", "version", "currency", "created_at", "updated_at"]
    inlines = [CartLineInline, CartCouponInline]
