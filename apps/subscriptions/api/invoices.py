"""Invoices API: the signed-in user's own invoices (another's id answers 404)."""

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.schema import raises
from apps.core.api.serializers import MoneySerializer
from apps.core.money import money_api
from apps.subscriptions import selectors
from apps.subscriptions.exceptions import InvoiceNotFound
from apps.subscriptions.models import Invoice, InvoiceLine


class InvoiceLineOutputSerializer(serializers.Serializer):
    description = serializers.CharField()
    quantity = serializers.IntegerField()
    proration = serializers.BooleanField()
    amount = serializers.SerializerMethodField()
    period_start = serializers.DateTimeField(allow_null=True)
    period_end = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(MoneySerializer)
    def get_amount(self, obj: InvoiceLine) -> dict[str, Any]:
        return money_api(obj.amount_minor, obj.currency)


class InvoiceOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.ChoiceField(choices=Invoice.Status.choices)
    subscription = serializers.IntegerField(source="subscription_id", allow_null=True)
    subtotal = serializers.SerializerMethodField()
    discount = serializers.SerializerMethodField()
    tax = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()
    amount_paid = serializers.SerializerMethodField()
    issued_at = serializers.DateTimeField(allow_null=True)
    paid_at = serializers.DateTimeField(allow_null=True)
    period_start = serializers.DateTimeField(allow_null=True)
    period_end = serializers.DateTimeField(allow_null=True)
    hosted_invoice_url = serializers.CharField(help_text="Empty on localstripe.")
    invoice_pdf = serializers.CharField(help_text="Empty on localstripe.")

    @extend_schema_field(MoneySerializer)
    def get_subtotal(self, obj: Invoice) -> dict[str, Any]:
        return money_api(obj.subtotal_minor, obj.currency)

    @extend_schema_field(MoneySerializer)
    def get_discount(self, obj: Invoice) -> dict[str, Any]:
        return money_api(obj.discount_minor, obj.currency)

    @extend_schema_field(MoneySerializer)
    def get_tax(self, obj: Invoice) -> dict[str, Any]:
        return money_api(obj.tax_minor, obj.currency)

    @extend_schema_field(MoneySerializer)
    def get_total(self, obj: Invoice) -> dict[str, Any]:
        return money_api(obj.total_minor, obj.currency)

    @extend_schema_field(MoneySerializer)
    def get_amount_paid(self, obj: Invoice) -> dict[str, Any]:
        return money_api(obj.amount_paid_minor, obj.currency)


class InvoiceDetailOutputSerializer(InvoiceOutputSerializer):
    lines = InvoiceLineOutputSerializer(many=True)


class InvoiceListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="invoices_list",
        responses={200: InvoiceOutputSerializer(many=True)},
        tags=["invoices"],
    )
    def get(self, request: Request) -> Response:
        invoices = selectors.invoice_list_for_user(user=request.user)[:100]
        return Response(InvoiceOutputSerializer(invoices, many=True).data)


class InvoiceDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="invoices_retrieve",
        responses={200: InvoiceDetailOutputSerializer},
        tags=["invoices"],
    )
    @raises(InvoiceNotFound)
    def get(self, request: Request, invoice_id: int) -> Response:
        invoice = selectors.invoice_get_for_user(
            user=request.user, invoice_id=invoice_id
        )
        return Response(InvoiceDetailOutputSerializer(invoice).data)
