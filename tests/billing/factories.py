"""Payment and refund rows as billing's services leave them (no Stripe call).

For flows that must talk to Stripe, use localstripe (tests/conftest.py); these
are for tests that only need the rows: admin pages, selectors, reports.
"""

import factory
from django.utils import timezone

from apps.billing.gateway import IntentStatus
from apps.billing.models import Payment, PaymentRefund


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    reference = factory.Sequence(lambda n: f"ORD-T{n:06d}")
    intent_id = factory.Sequence(lambda n: f"pi_test{n:08d}")
    client_secret = factory.LazyAttribute(lambda o: f"{o.intent_id}_secret_test")
    amount_minor = 2500
    currency = "USD"
    status = IntentStatus.REQUIRES_PAYMENT_METHOD.value
    idempotency_key = factory.LazyAttribute(lambda o: f"payment:{o.reference}")

    class Params:
        succeeded = factory.Trait(
            status="succeeded", succeeded_at=factory.LazyFunction(timezone.now)
        )
        requires_action = factory.Trait(status="requires_action")
        canceled = factory.Trait(status="canceled")
        declined = factory.Trait(
            status="requires_payment_method", last_error="Your card was declined."
        )


class RefundFactory(factory.django.DjangoModelFactory):
    """A refund of (part of) a succeeded payment; keeps the payment's total."""

    class Meta:
        model = PaymentRefund
        skip_postgeneration_save = True

    payment = factory.SubFactory(PaymentFactory, succeeded=True)
    refund_id = factory.Sequence(lambda n: f"re_test{n:08d}")
    amount_minor = factory.LazyAttribute(lambda o: o.payment.amount_minor)
    idempotency_key = factory.LazyAttribute(lambda o: f"refund:{o.refund_id}")

    class Params:
        failed = factory.Trait(status="failed")

    @factory.post_generation
    def count_on_payment(obj, create, extracted, **kwargs):
        # What billing's refund service does; a failed refund moves no money.
        if create and obj.status == "succeeded":
            Payment.objects.filter(pk=obj.payment_id).update(
                amount_refunded_minor=obj.payment.amount_refunded_minor
                + obj.amount_minor
            )
            obj.payment.refresh_from_db()
