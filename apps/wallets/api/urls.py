from django.urls import path

from apps.wallets.api import views

urlpatterns = [
    path("wallet/", views.WalletDetailApi.as_view(), name="api-wallet-detail"),
    path(
        "gift-cards/balance/",
        views.GiftCardBalanceApi.as_view(),
        name="api-gift-card-balance",
    ),
    path(
        "gift-cards/redeem/",
        views.GiftCardRedeemApi.as_view(),
        name="api-gift-card-redeem",
    ),
]
