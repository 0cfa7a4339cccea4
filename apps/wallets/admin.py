"""Wallets in admin: read-only ledgers, and staff adjustments with a reason."""

import secrets

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from apps.core.audit import audit_log
from apps.core.exceptions import ApplicationError
from apps.core.money import Money, to_minor_exact
from apps.wallets import services
from apps.wallets.models import GiftCard, LedgerEntry, Wallet
from apps.wallets.services.gift_cards import gift_card_code_display


def format_money(amount_minor: int, currency: str) -> str:
    return Money(amount_minor, currency).format()


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = ("created_at", "kind", "amount", "held", "reference", "memo", "actor")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-created_at", "-pk")

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="Amount")
    def amount(self, entry):
        return format_money(entry.amount_minor, entry.wallet.currency)

    @admin.display(description="Held")
    def held(self, entry):
        return format_money(entry.held_delta_minor, entry.wallet.currency)


class AdjustmentForm(forms.Form):
    direction = forms.ChoiceField(
        choices=[("credit", "Add credit"), ("debit", "Remove credit")],
        widget=forms.RadioSelect,
    )
    amount = forms.DecimalField(min_value=0, help_text="In currency units, e.g. 19.99")
    reason = forms.CharField(max_length=200, help_text="Shown to the customer.")
    confirm = forms.BooleanField(
        required=False, label="I confirm this large adjustment"
    )

    def __init__(self, *args, wallet: Wallet, **kwargs):
        super().__init__(*args, **kwargs)
        self.wallet = wallet

    def clean(self):
        data = super().clean() or {}
        if "amount" not in data:
            return data
        try:
            minor = to_minor_exact(data["amount"], self.wallet.currency)
        except ValueError as exc:
            raise ValidationError({"amount": str(exc)}) from exc
        if minor <= 0:
            raise ValidationError({"amount": "Enter an amount above zero."})
        data["amount_minor"] = minor
        limit = settings.WALLET_ADJUSTMENT_CONFIRM_ABOVE_MINOR
        if minor > limit and not data.get("confirm"):
            raise ValidationError(
                {
                    "confirm": "Adjustments above "
                    f"{format_money(limit, self.wallet.currency)} need confirming."
                }
            )
        return data


@admin.register(Wallet)
class WalletAdmin(admin.ModelAdmin):
    list_display = ("user", "currency", "balance", "held", "updated_at")
    list_select_related = ("user",)
    search_fields = ("user__email",)
    list_filter = ("currency",)
    readonly_fields = ("user", "currency", "balance", "held", "adjust_link")
    fields = readonly_fields
    inlines = [LedgerEntryInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Balance")
    def balance(self, wallet):
        return format_money(wallet.balance_minor, wallet.currency)

    @admin.display(description="Held for orders")
    def held(self, wallet):
        return format_money(wallet.held_minor, wallet.currency)

    @admin.display(description="Adjust")
    def adjust_link(self, wallet):
        url = reverse("admin:wallets_wallet_adjust", args=[wallet.pk])
        return format_html('<a class="button" href="{}">Adjust balance</a>', url)

    def get_urls(self):
        return [
            path(
                "<int:wallet_id>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="wallets_wallet_adjust",
            ),
            *super().get_urls(),
        ]

    def adjust_view(self, request, wallet_id):
        if not self.has_change_permission(request):
            raise PermissionDenied
        wallet = get_object_or_404(Wallet.objects.select_related("user"), pk=wallet_id)
        form = AdjustmentForm(request.POST or None, wallet=wallet)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            operation = (
                services.wallet_credit
                if data["direction"] == "credit"
                else services.wallet_debit
            )
            try:
                entry = operation(
                    user=wallet.user,
                    currency=wallet.currency,
                    amount_minor=data["amount_minor"],
                    kind=LedgerEntry.Kind.ADJUSTMENT,
                    idempotency_key=f"admin:{request.POST.get('form_token', '')}",
                    memo=data["reason"],
                    actor=request.user,
                )
            except ApplicationError as exc:
                form.add_error("amount", exc.message)
            else:
                audit_log(
                    action="wallet.adjusted",
                    request=request,
                    obj=wallet,
                    data={
                        "entry": entry.pk,
                        "amount_minor": entry.amount_minor,
                        "reason": data["reason"],
                    },
                )
                messages.success(
                    request,
                    f"{wallet.user}'s {wallet.currency} balance changed by "
                    f"{format_money(entry.amount_minor, wallet.currency)}.",
                )
                return redirect("admin:wallets_wallet_change", wallet.pk)
        return TemplateResponse(
            request,
            "admin/wallets/adjust.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Adjust {wallet}",
                "wallet": wallet,
                "form": form,
                "form_token": request.POST.get("form_token") or _token(),
                "opts": self.model._meta,
            },
        )


def _token() -> str:
    """A key per adjustment form, so a double-submitted form posts once."""
    return secrets.token_urlsafe(16)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    """The ledger is append-only: nothing here edits or deletes an entry."""

    list_display = ("created_at", "wallet", "kind", "amount_minor", "reference")
    list_filter = ("kind",)
    list_select_related = ("wallet__user",)
    search_fields = ("reference", "wallet__user__email")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class GiftCardIssueForm(forms.Form):
    amount = forms.DecimalField(min_value=0, help_text="In currency units, e.g. 25.00")
    currency = forms.ChoiceField(choices=[])
    recipient_email = forms.EmailField(required=False)
    message = forms.CharField(widget=forms.Textarea, required=False, max_length=1000)
    reason = forms.CharField(max_length=200, help_text="Recorded in the audit log.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"] = forms.ChoiceField(
            choices=[(c, c) for c in settings.CART_CURRENCIES]
        )

    def clean(self):
        data = super().clean() or {}
        if "amount" in data and "currency" in data:
            try:
                data["amount_minor"] = to_minor_exact(data["amount"], data["currency"])
            except ValueError as exc:
                raise ValidationError({"amount": str(exc)}) from exc
            if data["amount_minor"] <= 0:
                raise ValidationError({"amount": "Enter an amount above zero."})
        return data


@admin.register(GiftCard)
class GiftCardAdmin(admin.ModelAdmin):
    """Cards are issued, voided and resent through services, never edited."""

    list_display = (
        "masked_code",
        "initial",
        "balance",
        "status",
        "recipient_email",
        "sent_at",
        "redeemed_by",
        "expires_at",
    )
    list_filter = ("status", "currency")
    search_fields = ("code_last4", "recipient_email", "redeemed_by__email")
    list_select_related = ("redeemed_by",)
    exclude = ("code_hash", "code_encrypted", "issue_key")
    actions = ["void_cards", "resend_cards"]

    def get_readonly_fields(self, request, obj=None):
        return [
            f.name
            for f in GiftCard._meta.fields
            if f.name not in {"code_hash", "code_encrypted", "issue_key"}
        ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Amount")
    def initial(self, card):
        return format_money(card.initial_minor, card.currency)

    @admin.display(description="Balance")
    def balance(self, card):
        return format_money(card.balance_minor, card.currency)

    def get_urls(self):
        return [
            path(
                "issue/",
                self.admin_site.admin_view(self.issue_view),
                name="wallets_giftcard_issue",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {"issue_url": reverse("admin:wallets_giftcard_issue")}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def issue_view(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = GiftCardIssueForm(request.POST or None)
        issued = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            issued = services.gift_card_issue(
                amount_minor=data["amount_minor"],
                currency=data["currency"],
                issue_key=f"admin:{request.POST.get('form_token', '')}",
                recipient_email=data["recipient_email"],
                message=data["message"],
                actor=request.user,
            )
        return TemplateResponse(
            request,
            "admin/wallets/gift_card_issue.html",
            {
                **self.admin_site.each_context(request),
                "title": "Issue a gift card",
                "form": form,
                "issued": issued,
                "code": (
                    gift_card_code_display(issued.code)
                    if issued and issued.code
                    else None
                ),
                "form_token": _token(),
                "opts": self.model._meta,
            },
        )

    def _confirm(self, request, queryset, *, action, verb, run):
        if request.POST.get("confirmed") == "yes":
            reason = request.POST.get("reason", "").strip() or verb
            done = 0
            for card in queryset:
                try:
                    run(card, reason)
                except ApplicationError as exc:
                    self.message_user(
                        request, f"{card}: {exc.message}", level=messages.WARNING
                    )
                else:
                    done += 1
            self.message_user(request, f"{verb} {done} gift card(s).")
            return None
        return TemplateResponse(
            request,
            "admin/wallets/gift_card_confirm.html",
            {
                **self.admin_site.each_context(request),
                "title": f"{verb} these gift cards?",
                "cards": queryset,
                "action": action,
                "verb": verb,
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Void selected gift cards…")
    def void_cards(self, request, queryset):
        return self._confirm(
            request,
            queryset,
            action="void_cards",
            verb="Voided",
            run=lambda card, reason: services.gift_card_void(
                card_id=card.pk, actor=request.user, reason=reason
            ),
        )

    @admin.action(description="Resend the code of selected gift cards…")
    def resend_cards(self, request, queryset):
        return self._confirm(
            request,
            queryset,
            action="resend_cards",
            verb="Resent",
            run=lambda card, reason: services.gift_card_resend(
                card_id=card.pk, actor=request.user
            ),
        )
