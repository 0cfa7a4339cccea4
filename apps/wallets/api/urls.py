from django.urls import path

from apps.wallets.api import views

urlpatterns = [
    path("wallet/", views.WalletDetailApi.as_view(), name="api-wallet-detail"),
]
