import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.carts.models import Cart, CartLine
from apps.inventory.services import stock_set
from tests.accounts.factories import PASSWORD, UserFactory
from tests.carts.factories import CartCouponFactory, CartFactory, CartLineFactory
from tests.coupons.factories import CouponFactory, CouponRedemptionFactory
from tests.inventory.factories import VariantFactory

pytestmark = pytest.mark.django_db


def _create(api_client) -> dict:
    response = api_client.post("/api/v1/carts/", {}, format="json")
    assert response.status_code == 201
    return response.json()


def _add(api_client, cart_id, sku, quantity=1, **extra):
    return api_client.post(
        f"/api/v1/carts/{cart_id}/lines/",
        {"sku": sku, "quantity": quantity, **extra},
        format="json",
    )


def test_cart_create_anonymous_returns_id_version_and_zero_totals(api_client):
    body = _create(api_client)
    assert body["version"] == 1
    assert body["lines"] == []
    assert body["totals"]["total"] == {"amount": 0, "currency": "USD"}
    assert Cart.objects.filter(pk=body["id"], user=None).exists()


def test_cart_line_add_returns_priced_line(api_client):
    variant = VariantFactory(stock=10, price_minor=1999)
    cart = _create(api_client)
    response = _add(api_client, cart["id"], variant.sku, 2)
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 2
    assert response["ETag"] == '"2"'
    line = body["lines"][0]
    assert line["sku"] == variant.sku
    assert line["quantity"] == 2
    assert line["unit_price"] == {"amount": 1999, "currency": "USD"}
    assert line["line_total"] == {"amount": 3998, "currency": "USD"}
    assert line["discounts"] == []
    assert line["notices"] == []
    assert body["totals"]["subtotal"]["amount"] == 3998


def test_cart_line_patch_and_delete(api_client):
    variant = VariantFactory(stock=10, price_minor=100)
    cart = _create(api_client)
    line_id = _add(api_client, cart["id"], variant.sku).json()["lines"][0]["id"]
    url = f"/api/v1/carts/{cart['id']}/lines/{line_id}/"
    response = api_client.patch(url, {"quantity": 7}, format="json")
    assert response.json()["totals"]["total"]["amount"] == 700
    response = api_client.delete(url)
    assert response.status_code == 200
    assert response.json()["lines"] == []


def test_cart_line_add_stale_version_body_returns_409_with_current_cart(api_client):
    variant = VariantFactory(stock=10)
    cart = _create(api_client)
    _add(api_client, cart["id"], variant.sku, version=1)
    response = _add(api_client, cart["id"], variant.sku, version=1)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "cart_version_conflict"
    assert error["details"]["cart"]["version"] == 2
    assert error["details"]["cart"]["lines"][0]["quantity"] == 1


def test_cart_line_patch_stale_if_match_returns_409(api_client):
    line = CartLineFactory(cart=CartFactory(version=5))
    response = api_client.patch(
        f"/api/v1/carts/{line.cart.pk}/lines/{line.pk}/",
        {"quantity": 2},
        format="json",
        HTTP_IF_MATCH='"4"',
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "cart_version_conflict"
    line.refresh_from_db()
    assert line.quantity == 1


def test_cart_line_patch_current_if_match_succeeds(api_client):
    line = CartLineFactory(cart=CartFactory(version=5))
    response = api_client.patch(
        f"/api/v1/carts/{line.cart.pk}/lines/{line.pk}/",
        {"quantity": 2},
        format="json",
        HTTP_IF_MATCH='W/"5"',
    )
    assert response.status_code == 200
    assert response.json()["version"] == 6


def test_cart_line_add_above_availability_returns_400_clear_code(api_client):
    variant = VariantFactory(stock=3)
    cart = _create(api_client)
    response = _add(api_client, cart["id"], variant.sku, 4)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "quantity_exceeds_availability"
    assert error["details"] == {"sku": variant.sku, "requested": 4, "available": 3}


def test_cart_line_add_above_max_per_order_returns_400(api_client):
    variant = VariantFactory(stock=30, max_per_order=2)
    cart = _create(api_client)
    response = _add(api_client, cart["id"], variant.sku, 3)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "max_per_order_exceeded"


def test_cart_get_other_users_cart_returns_404(api_client):
    cart = CartFactory(user=UserFactory())
    api_client.force_authenticate(UserFactory())
    assert api_client.get(f"/api/v1/carts/{cart.pk}/").status_code == 404
    api_client.force_authenticate(None)
    response = api_client.get(f"/api/v1/carts/{cart.pk}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "cart_not_found"


def test_cart_write_to_other_users_cart_returns_404(api_client):
    cart = CartFactory(user=UserFactory())
    variant = VariantFactory(stock=3)
    api_client.force_authenticate(UserFactory())
    assert _add(api_client, cart.pk, variant.sku).status_code == 404
    assert not CartLine.objects.exists()


def test_cart_get_own_cart_as_signed_in_user_returns_200(api_client):
    user = UserFactory()
    cart = CartFactory(user=user)
    api_client.force_authenticate(user)
    assert api_client.get(f"/api/v1/carts/{cart.pk}/").json()["id"] == str(cart.pk)


def test_cart_get_unknown_anonymous_id_returns_404(api_client):
    response = api_client.get("/api/v1/carts/3f1c0f4e-8d4e-4a43-9d8b-1b2a3c4d5e6f/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "cart_not_found"


def test_cart_create_signed_in_user_returns_existing_open_cart(api_client):
    user = UserFactory()
    cart = CartFactory(user=user)
    api_client.force_authenticate(user)
    response = api_client.post("/api/v1/carts/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["id"] == str(cart.pk)


def test_cart_coupon_apply_and_remove(api_client):
    variant = VariantFactory(stock=10, price_minor=2000)
    coupon = CouponFactory(code="TENOFF", value=1000)
    cart = _create(api_client)
    _add(api_client, cart["id"], variant.sku, 2)
    response = api_client.post(
        f"/api/v1/carts/{cart['id']}/coupons/", {"code": "tenoff"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["coupons"][0]["code"] == coupon.code
    assert body["coupons"][0]["applied"] is True
    assert body["totals"]["discount"]["amount"] == 400
    assert body["lines"][0]["discounts"] == [
        {"code": "TENOFF", "amount": {"amount": 400, "currency": "USD"}}
    ]
    response = api_client.delete(f"/api/v1/carts/{cart['id']}/coupons/tenoff/")
    assert response.status_code == 200
    assert response.json()["totals"]["total"]["amount"] == 4000


def test_cart_coupon_never_discounts_a_gift_card_line(api_client):
    # A discounted gift card would be issued at face value: coupon money
    # turned into store credit.
    sweater = VariantFactory(stock=10, price_minor=2000)
    gift_card = VariantFactory(price_minor=5000, track_stock=False, is_gift_card=True)
    CouponFactory(code="TENOFF", value=1000)
    cart = _create(api_client)
    _add(api_client, cart["id"], sweater.sku, 1)
    _add(api_client, cart["id"], gift_card.sku, 1)
    response = api_client.post(
        f"/api/v1/carts/{cart['id']}/coupons/", {"code": "tenoff"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["totals"]["discount"]["amount"] == 200
    discounts = {line["sku"]: line["discounts"] for line in body["lines"]}
    assert discounts[gift_card.sku] == []
    assert discounts[sweater.sku][0]["amount"]["amount"] == 200


# --- every coupon error code through the API ------------------------------------


def _coupon_case(name, cart, user):
    """Set up the coupon for one refusal; return the code to try."""
    from apps.coupons.models import StackingSettings
    from apps.coupons.selectors import customer_order_count_provider_register

    if name == "coupon_not_found":
        return "NO-SUCH-CODE"
    if name == "coupon_inactive":
        return CouponFactory(inactive=True).code
    if name == "coupon_not_started":
        return CouponFactory(not_started=True).code
    if name == "coupon_expired":
        return CouponFactory(expired=True).code
    if name == "coupon_minimum_not_met":
        return CouponFactory(minimum_subtotal_minor=10_000).code
    if name == "coupon_usage_limit_reached":
        return CouponFactory(usage_limit=1, times_redeemed=1).code
    if name == "coupon_customer_limit_reached":
        coupon = CouponFactory(per_customer_limit=1)
        CouponRedemptionFactory(coupon=coupon, customer_key=f"user:{user.pk}")
        return coupon.code
    if name == "coupon_not_applicable":
        other = VariantFactory()
        coupon = CouponFactory()
        coupon.include_variants.add(other)
        return coupon.code
    if name == "coupon_not_combinable":
        StackingSettings.objects.update_or_create(
            pk=1, defaults={"max_coupons_per_order": 3}
        )
        CartCouponFactory(cart=cart, coupon=CouponFactory(code="FIRST", value=500))
        return CouponFactory(fixed=True).code
    if name == "coupon_first_order_only":
        customer_order_count_provider_register(lambda key: 1)
        return CouponFactory(is_first_order_only=True).code
    if name == "coupon_not_valid_for_orders":
        return CouponFactory(for_subscriptions=True).code
    raise AssertionError(name)


COUPON_ERRORS = [
    "coupon_not_found",
    "coupon_inactive",
    "coupon_not_started",
    "coupon_expired",
    "coupon_minimum_not_met",
    "coupon_usage_limit_reached",
    "coupon_customer_limit_reached",
    "coupon_not_applicable",
    "coupon_not_combinable",
    "coupon_first_order_only",
    "coupon_not_valid_for_orders",
]


@pytest.mark.parametrize("error_code", COUPON_ERRORS)
def test_cart_coupon_apply_refusal_returns_specific_code(
    api_client, error_code, reset_order_count_provider
):
    user = UserFactory()
    api_client.force_authenticate(user)
    cart = CartFactory(user=user)
    CartLineFactory(cart=cart, variant=VariantFactory(stock=5, price_minor=1000))
    code = _coupon_case(error_code, cart, user)
    response = api_client.post(
        f"/api/v1/carts/{cart.pk}/coupons/", {"code": code}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == error_code
    if error_code == "coupon_minimum_not_met":
        assert error["details"]["missing"] == {"amount": 9000, "currency": "USD"}
    if error_code == "coupon_not_combinable":
        assert error["details"]["conflicting_code"] == "FIRST"
    assert cart.coupons.count() == (1 if error_code == "coupon_not_combinable" else 0)


def test_cart_coupon_apply_guessing_throttled_with_retry_after(api_client, settings):
    settings.COUPON_APPLY_RATE = "3/m"
    cart = CartLineFactory().cart
    url = f"/api/v1/carts/{cart.pk}/coupons/"
    codes = [
        api_client.post(url, {"code": f"GUESS{i}"}, format="json").status_code
        for i in range(4)
    ]
    assert codes == [400, 400, 400, 429]
    response = api_client.post(url, {"code": "GUESS9"}, format="json")
    # The time left in the client's one-minute window.
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["error"]["code"] == "rate_limited"


# --- merge -------------------------------------------------------------------------


def test_cart_get_changed_price_and_reduced_stock_show_line_notices(api_client):
    """Re-priced on every view: the line shows the current price with a notice
    naming the old one; a quantity above what is left stays as the shopper set
    it, with a notice, instead of being lowered behind their back."""
    changed = VariantFactory(stock=10, price_minor=1000)
    steady = VariantFactory(stock=10, price_minor=300)
    cart = _create(api_client)
    _add(api_client, cart["id"], changed.sku, 4)
    version = _add(api_client, cart["id"], steady.sku, 1).json()["version"]
    changed.price_minor = 1200
    changed.save(update_fields=["price_minor"])
    stock_set(variant_id=changed.pk, on_hand=2, reason="adjustment")

    response = api_client.get(f"/api/v1/carts/{cart['id']}/")

    assert response.status_code == 200
    body = response.json()
    lines = {line["sku"]: line for line in body["lines"]}
    line = lines[changed.sku]
    assert [(n["code"], n["message"], n["details"]) for n in line["notices"]] == [
        (
            "price_changed",
            "The price went up since you added this item.",
            {
                "previous": {"amount": 1000, "currency": "USD"},
                "current": {"amount": 1200, "currency": "USD"},
            },
        ),
        (
            "quantity_exceeds_availability",
            "Only 2 left; lower the quantity to continue.",
            {"available": 2},
        ),
    ]
    assert line["quantity"] == 4
    assert line["added_unit_price"] == {"amount": 1000, "currency": "USD"}
    assert line["unit_price"] == {"amount": 1200, "currency": "USD"}
    assert line["line_total"] == {"amount": 4800, "currency": "USD"}
    assert lines[steady.sku]["notices"] == []
    assert lines[steady.sku]["line_total"] == {"amount": 300, "currency": "USD"}
    # The totals are the current prices' (what checkout will charge), shown
    # with the notice above: 4 × 12.00 + 3.00.
    assert body["totals"]["subtotal"] == {"amount": 5100, "currency": "USD"}
    assert body["totals"]["total"] == {"amount": 5100, "currency": "USD"}
    # Viewing writes nothing: the snapshot, the quantity and the version stay.
    assert body["version"] == version
    stored = CartLine.objects.get(cart_id=cart["id"], variant=changed)
    assert (stored.unit_price_minor, stored.quantity) == (1000, 4)


def test_cart_merge_api_merges_guest_cart_with_capped_notice(api_client):
    user = UserFactory()
    variant = VariantFactory(stock=4, price_minor=1000)
    mine = CartFactory(user=user)
    CartLineFactory(cart=mine, variant=variant, quantity=3)
    guest = _create(api_client)
    _add(api_client, guest["id"], variant.sku, 2)

    api_client.force_authenticate(user)
    response = api_client.post(f"/api/v1/carts/{guest['id']}/merge/")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(mine.pk)
    assert body["lines"][0]["quantity"] == 4
    assert body["notices"][0]["code"] == "capped"
    assert body["notices"][0]["details"]["requested"] == 5
    assert api_client.get(f"/api/v1/carts/{guest['id']}/").status_code == 404


def test_cart_merge_api_with_headless_app_token_merges_guest_cart(api_client):
    """The mobile app's real path: allauth headless login, then a Bearer token."""
    user = UserFactory(verified_email=True)
    variant = VariantFactory(stock=4, price_minor=1000)
    extra = VariantFactory(stock=10, price_minor=250)
    mine = CartFactory(user=user)
    CartLineFactory(cart=mine, variant=variant, quantity=3)
    guest = _create(api_client)
    _add(api_client, guest["id"], variant.sku, 2)
    _add(api_client, guest["id"], extra.sku, 1)
    login = Client().post(
        "/_allauth/app/v1/auth/login",
        {"email": user.email, "password": PASSWORD},
        content_type="application/json",
    )
    assert login.status_code == 200, login.content
    app = APIClient(HTTP_AUTHORIZATION=f"Bearer {login.json()['meta']['access_token']}")

    response = app.post(f"/api/v1/carts/{guest['id']}/merge/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == str(mine.pk)
    quantities = {line["sku"]: line["quantity"] for line in body["lines"]}
    assert quantities == {variant.sku: 4, extra.sku: 1}
    assert [(n["code"], n["details"]["requested"]) for n in body["notices"]] == [
        ("capped", 5)
    ]
    assert body["totals"]["subtotal"]["amount"] == 4 * 1000 + 250
    assert not Cart.objects.filter(pk=guest["id"]).exists()
    assert dict(mine.lines.values_list("variant__sku", "quantity")) == quantities
    # The token, not a session, authenticated: the merged cart is the user's.
    assert app.get(f"/api/v1/carts/{mine.pk}/").status_code == 200
    assert APIClient().get(f"/api/v1/carts/{mine.pk}/").status_code == 404


def test_cart_merge_api_requires_authentication(api_client):
    guest = _create(api_client)
    assert api_client.post(f"/api/v1/carts/{guest['id']}/merge/").status_code in (
        401,
        403,
    )


# --- query counts -------------------------------------------------------------------


def _cart_with(lines: int, coupons: int) -> Cart:
    cart = CartFactory()
    for _ in range(lines):
        CartLineFactory(cart=cart, quantity=2)
    for i in range(coupons):
        coupon = CouponFactory(fixed=True, value=100 + i, per_customer_limit=3)
        CartCouponFactory(cart=cart, coupon=coupon)
    return cart


@pytest.mark.parametrize("coupons", [0, 2])
def test_cart_get_query_count_same_for_1_and_25_lines(
    api_client, django_assert_num_queries, coupons
):
    from apps.coupons.models import StackingSettings

    StackingSettings.objects.create(pk=1, max_coupons_per_order=5)
    small, large = _cart_with(1, coupons), _cart_with(25, coupons)
    counts = []
    for cart in (small, large):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            response = api_client.get(f"/api/v1/carts/{cart.pk}/")
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert len(response.json()["lines"]) == 25
    assert counts[0] == counts[1]
    with django_assert_num_queries(counts[0]):
        api_client.get(f"/api/v1/carts/{large.pk}/")
    if coupons:
        assert response.json()["totals"]["discount"]["amount"] == 100 + 101


def test_cart_coupon_apply_minimum_not_met_message_in_money_details_in_minor_units(
    api_client,
):
    cart = CartLineFactory(variant=VariantFactory(stock=5, price_minor=1000)).cart
    CouponFactory(code="BIGSPEND", minimum_subtotal_minor=10_000)

    response = api_client.post(
        f"/api/v1/carts/{cart.pk}/coupons/", {"code": "BIGSPEND"}, format="json"
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "coupon_minimum_not_met"
    assert error["message"] == (
        "Spend at least $100.00 to use coupon BIGSPEND; add $90.00 more."
    )
    assert error["details"]["missing"] == {"amount": 9000, "currency": "USD"}
    assert error["details"]["minimum"] == {"amount": 10000, "currency": "USD"}


def _merge_setup(user, guest_variant, guest_quantity=1):
    """The user's open cart holds one other item; the guest cart one line."""
    mine = CartFactory(user=user)
    CartLineFactory(cart=mine, variant=VariantFactory(stock=10))
    guest = CartFactory()
    CartLineFactory(cart=guest, variant=guest_variant, quantity=guest_quantity)
    return mine, guest


def test_cart_merge_api_deactivated_variant_dropped_with_notice(api_client):
    user = UserFactory()
    gone = VariantFactory(stock=10)
    mine, guest = _merge_setup(user, gone)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    api_client.force_authenticate(user)

    response = api_client.post(f"/api/v1/carts/{guest.pk}/merge/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(mine.pk)
    assert body["notices"] == [
        {
            "code": "dropped",
            "message": f"{gone.sku} was removed: it is no longer available.",
            "details": {"sku": gone.sku},
        }
    ]
    assert gone.sku not in {line["sku"] for line in body["lines"]}
    assert not CartLine.objects.filter(cart=mine, variant=gone).exists()


def test_cart_merge_api_out_of_stock_variant_dropped_with_notice(api_client):
    user = UserFactory()
    sold_out = VariantFactory(stock=0)
    mine, guest = _merge_setup(user, sold_out, guest_quantity=2)
    api_client.force_authenticate(user)

    response = api_client.post(f"/api/v1/carts/{guest.pk}/merge/")

    assert response.status_code == 200
    body = response.json()
    assert body["notices"] == [
        {
            "code": "dropped",
            "message": f"{sold_out.sku} was removed: it is out of stock.",
            "details": {"sku": sold_out.sku, "requested": 2},
        }
    ]
    assert len(body["lines"]) == 1
    assert not CartLine.objects.filter(cart=mine, variant=sold_out).exists()


def test_cart_merge_api_coupon_no_longer_valid_dropped_with_notice(api_client):
    user = UserFactory()
    variant = VariantFactory(stock=10, price_minor=1000)
    mine, guest = _merge_setup(user, variant)
    coupon = CouponFactory(code="ONCE", per_customer_limit=1)
    CouponRedemptionFactory(coupon=coupon, customer_key=f"user:{user.pk}")
    CartCouponFactory(cart=guest, coupon=coupon)
    api_client.force_authenticate(user)

    response = api_client.post(f"/api/v1/carts/{guest.pk}/merge/")

    assert response.status_code == 200
    body = response.json()
    assert body["notices"] == [
        {
            "code": "coupon_dropped",
            "message": "Coupon ONCE was not kept: You have already used coupon "
            "ONCE 1 time(s), the maximum allowed.",
            "details": {"code": "ONCE", "reason": "coupon_customer_limit_reached"},
        }
    ]
    assert body["coupons"] == []
    assert body["totals"]["discount"]["amount"] == 0
    assert not mine.coupons.exists()


def _queries_to_add(api_client, cart, sku) -> tuple[int, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = api_client.post(
            f"/api/v1/carts/{cart.pk}/lines/",
            {"sku": sku, "quantity": 1},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"add-{cart.pk}",
        )
    assert response.status_code == 200, response.json()
    return len(ctx.captured_queries), response


def _cart_for_add(api_client, lines: int, *, signed_in: bool) -> Cart:
    cart = _cart_with(lines, coupons=0)
    if signed_in:
        user = UserFactory()
        Cart.objects.filter(pk=cart.pk).update(user=user)
        api_client.force_authenticate(user)
    return cart


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
@pytest.mark.parametrize("existing_sku", [False, True], ids=["new-line", "merge"])
def test_cart_line_add_api_at_most_20_queries_same_for_1_and_5_lines(
    api_client, django_assert_max_num_queries, signed_in, existing_sku
):
    counts = []
    for lines in (1, 5):
        cart = _cart_for_add(api_client, lines, signed_in=signed_in)
        variant = (
            cart.lines.first().variant if existing_sku else VariantFactory(stock=10)
        )
        count, response = _queries_to_add(api_client, cart, variant.sku)
        counts.append(count)
        body = response.json()
        assert len(body["lines"]) == lines + (0 if existing_sku else 1)
        assert body["version"] == 2
    assert counts[0] == counts[1]

    cart = _cart_for_add(api_client, 5, signed_in=signed_in)
    variant = cart.lines.first().variant if existing_sku else VariantFactory(stock=10)
    with django_assert_max_num_queries(20):
        _queries_to_add(api_client, cart, variant.sku)
