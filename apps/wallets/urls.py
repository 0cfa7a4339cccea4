from django.urls import path

from apps.wallets import views

app_name = "wallets"
urlpatterns = [
    path("account/wallet/", views.wallet_detail, name="wallet-detail"),
    path("gift-cards/balance/", views.gift_card_balance, name="gift-card-balance"),
    path("gift-cards/redeem/", views.gift_card_redeem, name="gift-card-redeem"),
]
