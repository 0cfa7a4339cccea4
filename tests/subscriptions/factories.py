import factory

from apps.subscriptions.models import Feature, Plan, PlanPrice


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
