from django.urls import path

from apps.wallets import views

app_name = "wallets"
urlpatterns = [
    path("account/wallet/", views.wallet_detail, name="wallet-detail"),
]
