import factory
from django.utils import timezone

from apps.dunning.models import DunningAction, DunningCase, DunningPolicy
from tests.subscriptions.factories import InvoiceFactory


class DunningPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DunningPolicy

    name = factory.Sequence(lambda n: f"policy-{n}")


class DunningCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DunningCase

    invoice = factory.SubFactory(InvoiceFactory, status="open", amount_paid_minor=0)
    subscription = factory.LazyAttribute(lambda o: o.invoice.subscription)
    policy = factory.SubFactory(DunningPolicyFactory)
    failed_at = factory.LazyFunction(timezone.now)
    grace_until = factory.LazyFunction(timezone.now)


class DunningActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DunningAction

    case = factory.SubFactory(DunningCaseFactory)
    kind = DunningAction.Kind.RETRY
    detail = "schedule"
    due_at = factory.LazyFunction(timezone.now)
