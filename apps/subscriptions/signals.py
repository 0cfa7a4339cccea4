"""Signals other modules of the shop follow.

``access_changed`` is sent after the commit of any change that may change
what a subscription grants (``Subscription.grants_access``): a status move, a
plan change, a grace period set or cleared. Receivers (the entitlements
cache, licence keys) re-read the subscription and converge, so a repeated
send is harmless. Arguments: ``subscription_id``, ``user_id``, ``reason``.
"""

from django.dispatch import Signal

access_changed = Signal()

# Sent after the commit of a new default card on a subscription (the
# subscriber updated it from the account page or the API). Dunning retries a
# failed invoice at once when it hears it. Arguments: ``subscription_id``,
# ``user_id``.
payment_method_updated = Signal()

# Sent after the commit of an invoice sync (apps.subscriptions.services.
# invoices.invoice_sync), for dunning. ``invoice_payment_failed``: the invoice
# is open with money due and Stripe holds its subscription past_due or unpaid
# (a renewal charge failed). ``invoice_paid``: the invoice is paid. Both may be
# sent again for the same invoice (every sync); receivers are idempotent.
# Arguments: ``invoice_id``, ``subscription_id`` (ours).
invoice_payment_failed = Signal()
invoice_paid = Signal()
