import factory

from apps.accounts.models import Address, User

PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = "Ada Lovelace"
    password = factory.django.Password(PASSWORD)


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    user = factory.SubFactory(UserFactory)
    name = "Ada Lovelace"
    line1 = "1600 Amphitheatre Pkwy"
    city = "Mountain View"
    region = "CA"
    postal_code = "94043"
    country = "US"
