"""Store credit for the mobile app: wallets and gift cards."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from apps.core import ratelimit
from apps.core.api.serializers import MoneySerializer
from apps.wallets import selectors, services
from apps.wallets.throttling import gift_card_limit_hit


def _money(amount: int, currency: str) -> dict:
    return {"amount": amount, "currency": currency}


class WalletDetailApi(APIView):
    """Balances, held credit and the latest history, per currency."""

    permission_classes = [IsAuthenticated]

    class EntrySerializer(serializers.Serializer):
        kind = serializers.CharField()
        amount = MoneySerializer(help_text="Change to the spendable balance.")
        held = MoneySerializer(help_text="Change to held credit.")
        reference = serializers.CharField()
        memo = serializers.CharField()
        created_at = serializers.DateTimeField()

    class WalletSerializer(serializers.Serializer):
        currency = serializers.CharField()
        balance = MoneySerializer()
        held = MoneySerializer()
        entries = serializers.ListField(child=serializers.DictField())

    class OutputSerializer(serializers.Serializer):
        wallets = serializers.ListField(child=serializers.DictField())

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request):
        wallets = selectors.wallet_list_for_user(user=request.user)
        return Response(
            {
                "wallets": [
                    {
                        "currency": w.currency,
                        "balance": _money(w.balance_minor, w.currency),
                        "held": _money(w.held_minor, w.currency),
                        "entries": [
                            {
                                "kind": e.kind,
                                "amount": _money(e.amount_minor, w.currency),
                                "held": _money(e.held_delta_minor, w.currency),
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


class GiftCardCodeSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)


class GiftCardBalanceApi(APIView):
    """Check a code's balance. Unknown and used-up codes answer alike."""

    permission_classes = [AllowAny]
    throttle_classes = [_GiftCardThrottle]

    class OutputSerializer(serializers.Serializer):
        balance = MoneySerializer()
        expires_at = serializers.DateTimeField(allow_null=True)

    @extend_schema(request=GiftCardCodeSerializer, responses={200: OutputSerializer})
    def post(self, request):
        data = _validated(GiftCardCodeSerializer, request)
        card = services.gift_card_balance(code=data["code"])
        return Response(
            {
                "balance": _money(card.balance_minor, card.currency),
                "expires_at": card.expires_at,
            }
        )


class GiftCardRedeemApi(APIView):
    """Move a gift card's balance into the signed-in customer's wallet."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [_GiftCardThrottle]

    class OutputSerializer(serializers.Serializer):
        credited = MoneySerializer()
        balance = MoneySerializer()

    @extend_schema(request=GiftCardCodeSerializer, responses={200: OutputSerializer})
    def post(self, request):
        data = _validated(GiftCardCodeSerializer, request)
        entry = services.gift_card_redeem(code=data["code"], user=request.user)
        wallet = entry.wallet
        wallet.refresh_from_db(fields=["balance_minor"])
        return Response(
            {
                "credited": _money(entry.amount_minor, wallet.currency),
                "balance": _money(wallet.balance_minor, wallet.currency),
            }
        )


def _validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
