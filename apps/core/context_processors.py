from django.conf import settings


def site(request):
    return {
        "SITE_NAME": "Shop",
        "cart_count": getattr(request, "cart_count", None),
        "STRIPE_JS_URL": settings.STRIPE_JS_URL,
    }
