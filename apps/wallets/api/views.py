"""Store credit for the mobile app: wallets and gift cards."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from apps.core import ratelimit
from apps.core.api.schema import raises
from apps.core.api.serializers import MoneySerializer
from apps.core.exceptions import ValidationFailed
from apps.core.money import money_api
from apps.wallets import selectors, services
from apps.wallets.exceptions import (
    GiftCardExpired,
    GiftCardInvalid,
    WalletIdempotencyConflict,
)
from apps.wallets.throttling import gift_card_limit_hit


class WalletEntrySerializer(serializers.Serializer):
    kind = serializers.CharField()
    amount = MoneySerializer(help_text="Change to the spendable balance.")
    held = MoneySerializer(help_text="Change to credit held for orders.")
    reference = serializers.CharField()
    memo = serializers.CharField()
    created_at = serializers.DateTimeField()


class WalletSerializer(serializers.Serializer):
    currency = serializers.CharField()
    balance = MoneySerializer(help_text="Credit that can be spent now.")
    held = MoneySerializer(help_text="Credit set aside for orders awaiting payment.")
    entries = WalletEntrySerializer(many=True, help_text="Latest 50, newest first.")


class WalletListSerializer(serializers.Serializer):
    wallets = WalletSerializer(many=True)


class GiftCardCodeSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)


class GiftCardBalanceSerializer(serializers.Serializer):
    balance = MoneySerializer()
    expires_at = serializers.DateTimeField(allow_null=True)


class GiftCardRedeemedSerializer(serializers.Serializer):
    credited = MoneySerializer()
    balance = MoneySerializer(help_text="The wallet's spendable balance after it.")


class WalletDetailApi(APIView):
    """Balances, held credit and the latest history, per currency."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: WalletListSerializer})
    def get(self, request):
        wallets = selectors.wallet_list_for_user(user=request.user)
        return Response(
            {
                "wallets": [
                    {
                        "currency": w.currency,
                        "balance": money_api(w.balance_minor, w.currency),
                        "held": money_api(w.held_minor, w.currency),
                        "entries": [
                            {
                                "kind": e.kind,
                                "amount": money_api(e.amount_minor, w.currency),
                                "held": money_api(e.held_delta_minor, w.currency),
                                "reference": e.reference,
                                "memo": e.memo,
                                "created_at": e.created_at,
                            }
                            for e in getattr(w, "recent_entries", [])
                        ],
                    }
                    for w in wallets
                ]
            }
        )


class _GiftCardThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        used = gift_card_limit_hit(request)
        if used is not None:
            raise Throttled(wait=used.time_left, detail=ratelimit.MESSAGE)
        return True


def _code(request) -> str:
    serializer = GiftCardCodeSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["code"]


class GiftCardBalanceApi(APIView):
    """Check a code's balance. Unknown and used-up codes answer alike."""

    permission_classes = [AllowAny]
    throttle_classes = [_GiftCardThrottle]

    @extend_schema(
        request=GiftCardCodeSerializer, responses={200: GiftCardBalanceSerializer}
    )
    @raises(ValidationFailed, GiftCardInvalid, GiftCardExpired)
    def post(self, request):
        card = services.gift_card_balance(code=_code(request))
        return Response(
            {
                "balance": money_api(card.balance_minor, card.currency),
                "expires_at": card.expires_at,
            }
        )


class GiftCardRedeemApi(APIView):
    """Move a gift card's balance into the signed-in customer's wallet.

    Redeeming again with the same code returns the first result."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [_GiftCardThrottle]

    @extend_schema(
        request=GiftCardCodeSerializer, responses={200: GiftCardRedeemedSerializer}
    )
    @raises(
        ValidationFailed, GiftCardInvalid, GiftCardExpired, WalletIdempotencyConflict
    )
    def post(self, request):
        entry = services.gift_card_redeem(code=_code(request), user=request.user)
        wallet = entry.wallet
        wallet.refresh_from_db(fields=["balance_minor"])
        return Response(
            {
                "credited": money_api(entry.amount_minor, wallet.currency),
                "balance": money_api(wallet.balance_minor, wallet.currency),
            }
        )
