"""The Stripe port: the one package that talks to Stripe.

Every Stripe API call in the shop goes through these functions (dj-stripe's own
syncing aside). They read settings at call time, send idempotency keys, return
frozen snapshots (``types.py``; never a ``stripe.StripeObject``) and translate
the stripe library's errors into billing exceptions (``client._translate``):

- a declined card -> PaymentDeclined (402, Stripe's message, code card_declined)
- 3-D Secure needed where it cannot be shown -> AuthenticationRequired (402)
- network errors, 429, 5xx, a key still in flight -> TransientError (retry)
- an invalid request (unknown id, bad parameter) -> PaymentRequestInvalid
- any other refusal -> PaymentProviderError
- an API the configured server lacks (localstripe: Prices, Checkout Sessions,
  Billing Portal, Webhook Endpoints) -> StripeFeatureUnavailable

Callers use ``from apps.billing import gateway`` and ``gateway.<name>``; each
concern lives in its own module and is re-exported here, so a new module
(subscriptions, invoices) only adds its names below. ``testing.py`` holds the
drivers that only tests and demos use (test cards, raw payloads): it is not
re-exported.
"""

from apps.billing.gateway.catalogue import (
    ProductSnapshot,
    RecurringPriceSnapshot,
    price_create,
    product_retrieve,
    product_upsert,
    recurring_price_create,
    recurring_price_object,
    recurring_price_retrieve,
    recurring_price_set_active,
)
from apps.billing.gateway.client import (
    REAL_STRIPE_HOST,
    _client,
    _client_for,
    api_host,
    is_localstripe,
    secret_key,
)
from apps.billing.gateway.coupons import (
    CouponSnapshot,
    coupon_create,
    coupon_ensure,
    coupon_retrieve,
)
from apps.billing.gateway.customers import (
    customer_create,
    customer_retrieve,
    customer_update,
)
from apps.billing.gateway.hosted import (
    billing_portal_session_create,
    checkout_session_create,
)
from apps.billing.gateway.intents import (
    payment_intent_cancel,
    payment_intent_confirm,
    payment_intent_create,
    payment_intent_retrieve,
    payment_intent_update,
    payment_method_attach,
    setup_intent_create,
    setup_intent_retrieve,
)
from apps.billing.gateway.refunds import refund_create, refund_retrieve
from apps.billing.gateway.types import (
    OPEN_INTENT_STATUSES,
    CustomerSnapshot,
    HostedSessionSnapshot,
    IntentStatus,
    PaymentErrorSnapshot,
    PaymentIntentSnapshot,
    PaymentMethodSnapshot,
    PriceSnapshot,
    RefundSnapshot,
    RefundStatus,
    SetupIntentSnapshot,
    WebhookEndpointSnapshot,
)
from apps.billing.gateway.webhooks import (
    localstripe_webhook_register,
    webhook_endpoint_create,
)

__all__ = [
    "OPEN_INTENT_STATUSES",
    "REAL_STRIPE_HOST",
    "CouponSnapshot",
    "CustomerSnapshot",
    "HostedSessionSnapshot",
    "IntentStatus",
    "PaymentErrorSnapshot",
    "PaymentIntentSnapshot",
    "PaymentMethodSnapshot",
    "PriceSnapshot",
    "ProductSnapshot",
    "RecurringPriceSnapshot",
    "RefundSnapshot",
    "RefundStatus",
    "SetupIntentSnapshot",
    "WebhookEndpointSnapshot",
    "_client",
    "_client_for",
    "api_host",
    "billing_portal_session_create",
    "checkout_session_create",
    "coupon_create",
    "coupon_ensure",
    "coupon_retrieve",
    "customer_create",
    "customer_retrieve",
    "customer_update",
    "is_localstripe",
    "localstripe_webhook_register",
    "payment_intent_cancel",
    "payment_intent_confirm",
    "payment_intent_create",
    "payment_intent_retrieve",
    "payment_intent_update",
    "payment_method_attach",
    "price_create",
    "product_retrieve",
    "product_upsert",
    "recurring_price_create",
    "recurring_price_object",
    "recurring_price_retrieve",
    "recurring_price_set_active",
    "refund_create",
    "refund_retrieve",
    "secret_key",
    "setup_intent_create",
    "setup_intent_retrieve",
    "webhook_endpoint_create",
]
