import factory
from allauth.account.models import EmailAddress

from apps.accounts.models import Address, User

PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True  # the hook below writes its own row

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = "Ada Lovelace"
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def verified_email(obj, create, extracted, **kwargs):
        """`UserFactory(verified_email=True)`: a shopper who confirmed the address.

        Signing in with a password needs it (ACCOUNT_EMAIL_VERIFICATION is
        mandatory); without it allauth mails a confirmation link instead.
        """
        if create and extracted:
            EmailAddress.objects.create(
                user=obj, email=obj.email, primary=True, verified=True
            )


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


def app_access_token(user: User) -> str:
    """Sign `user` in as the mobile app does (allauth headless, app client)
    with the factories' PASSWORD and return the access token."""
    from django.test import Client

    response = Client().post(
        "/_allauth/app/v1/auth/login",
        {"email": user.email, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()["meta"]["access_token"]
