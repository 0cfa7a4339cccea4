"""Serializers every app's API shares."""

from rest_framework import serializers


class MoneySerializer(serializers.Serializer):
    """An amount as Stripe sends it: ``{"amount": 1999, "currency": "USD"}``."""

    amount = serializers.IntegerField(help_text="Integer minor units (cents).")
    currency = serializers.CharField(help_text="ISO 4217 code, upper case.")
