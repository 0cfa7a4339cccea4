"""Store credit for the mobile app: the signed-in customer's wallets."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.serializers import MoneySerializer
from apps.wallets import selectors


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
