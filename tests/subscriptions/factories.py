import factory

from apps.subscriptions.models import (
    Feature,
    Invoice,
    InvoiceLine,
    Plan,
    PlanAssignment,
    PlanPrice,
    Subscription,
)
from tests.accounts.factories import UserFactory


class FeatureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Feature
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"feature_{n}")
    label = factory.LazyAttribute(lambda o: o.key.replace("_", " ").title())
    kind = Feature.Kind.NUMBER


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    slug = factory.Sequence(lambda n: f"plan-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())
    sort_order = factory.Sequence(lambda n: n)

    class Params:
        private = factory.Trait(visibility=Plan.Visibility.PRIVATE)
        archived = factory.Trait(status=Plan.Status.ARCHIVED)


class PlanPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlanPrice

    plan = factory.SubFactory(PlanFactory)
    interval = PlanPrice.Interval.MONTH
    amount_minor = 1000
    currency = "USD"

    class Params:
        yearly = factory.Trait(interval=PlanPrice.Interval.YEAR, amount_minor=10000)


class SubscriptionFactory(factory.django.DjangoModelFactory):
    """A local row only; subscriptions with a Stripe twin go through services."""

    class Meta:
        model = Subscription

    user = factory.SubFactory(UserFactory)
    price = factory.SubFactory(PlanPriceFactory)
    status = "active"
    stripe_id = factory.Sequence(lambda n: f"sub_test{n}")


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    subscription = factory.SubFactory(SubscriptionFactory)
    user = factory.LazyAttribute(lambda o: o.subscription.user)
    stripe_id = factory.Sequence(lambda n: f"in_test{n}")
    number = factory.Sequence(lambda n: f"INV-{n:04d}")
    status = Invoice.Status.PAID
    currency = "USD"
    subtotal_minor = 1000
    total_minor = 1000
    amount_due_minor = 1000
    amount_paid_minor = 1000


class InvoiceLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(InvoiceFactory)
    stripe_id = factory.Sequence(lambda n: f"il_test{n}")
    description = "1 × Plan"
    amount_minor = 1000
    currency = "USD"


class PlanAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlanAssignment

    plan = factory.SubFactory(PlanFactory, private=True)
    user = factory.SubFactory(UserFactory)
