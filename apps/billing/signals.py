"""Signals billing publishes (checkout subscribes in checkout/handlers.py).

All are sent once per Stripe event (dj-stripe stores each event id once, so a
redelivered webhook does not send again), inside the webhook's transaction,
with sender="billing" and these keyword arguments:

    payment_intent_id: str   e.g. "pi_..."
    amount_minor: int        the intent's amount in minor units
    currency: str            upper-case ISO code, e.g. "EUR"
    metadata: dict[str, str] the intent's metadata (checkout puts its ids there)
    event_id: str            the Stripe event id, e.g. "evt_..."
    error_message: str       payment_failed only: Stripe's last_payment_error
    cancellation_reason: str payment_canceled only: Stripe's reason, e.g.
                             "abandoned" or "" (empty when none was given)

Two more carry only Stripe ids, never figures (subscriptions re-fetches the
object from Stripe through the gateway before it changes anything):

    subscription_event: stripe_id ("sub_..."), event_type, event_id
    invoice_event:      stripe_id ("in_..."), subscription_id (the event's
                        claim, a hint only; may be ""), event_type, event_id
"""

from django.dispatch import Signal

payment_succeeded = Signal()
payment_failed = Signal()
payment_canceled = Signal()
subscription_event = Signal()
invoice_event = Signal()
