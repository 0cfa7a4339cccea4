from django.urls import path

from apps.subscriptions import views

app_name = "subscriptions"

urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("subscribe/<int:price_id>/", views.subscribe, name="subscribe"),
]
