"""Load on the shop: browse, cart, checkout, subscribe, usage ingest, webhooks.

Run through ``loadtests/run.py``, which starts the site, seeds what these
users need and hands over these environment variables:

    LOADTEST_STRIPE_URL       localstripe, where cards are confirmed (as Stripe.js)
    LOADTEST_WEBHOOK_PATH     /stripe/webhook/<uuid>/ of the shop's endpoint
    LOADTEST_WEBHOOK_SECRET   its signing secret
    LOADTEST_USERS_FILE       JSON list of verified shoppers {"email", "password"}
    LOADTEST_USAGE_USERS_FILE the same, for subscribers on a metered plan
    LOADTEST_SKIPPED_FILE     where a step that the shop does not have is noted

Every request is named "<flow>: <step>"; the report gives p50/p95 per name.
A response outside what the step expects is a failure (an error in the
report). A flow whose seeded data is missing (no shoppers, no plan price) is
not an error: it is written to LOADTEST_SKIPPED_FILE and its user stops.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import os
import threading
import time
import uuid

from locust import FastHttpUser, between, task
from locust.exception import StopUser

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1600 Amphitheatre Pkwy",
    "city": "Mountain View",
    "region": "CA",
    "postal_code": "94043",
    "country": "US",
    "phone": "+1 650 253 0000",
}
CARD = {
    "payment_method_data[type]": "card",
    "payment_method_data[card][number]": "4242424242424242",
    "payment_method_data[card][exp_month]": "12",
    "payment_method_data[card][exp_year]": "2034",
    "payment_method_data[card][cvc]": "123",
}
STRIPE = os.environ.get("LOADTEST_STRIPE_URL", "http://127.0.0.1:8420")

_lock = threading.Lock()


class StepFailed(Exception):
    """A step answered what it should not; the rest of the flow is skipped."""


_catalogue: dict[str, list] = {}


def _users(variable: str = "LOADTEST_USERS_FILE"):
    path = os.environ.get(variable, "")
    if not path or not os.path.exists(path):
        return iter(())
    with open(path) as f:
        return itertools.cycle(json.load(f))


_shoppers = _users()
_usage_subscribers = _users("LOADTEST_USAGE_USERS_FILE")


def note_skipped(step: str, reason: str) -> None:
    path = os.environ.get("LOADTEST_SKIPPED_FILE")
    if path:
        with _lock, open(path, "a") as f:
            f.write(json.dumps({"step": step, "reason": reason}) + "\n")


def idem() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


class ShopUser(FastHttpUser):
    abstract = True
    wait_time = between(0.2, 1.0)

    def api(self, method, path, name, expect=(200, 201), **kwargs):
        """One API call counted under ``name``; anything unexpected fails it."""
        with self.client.request(
            method, f"/api/v1{path}", name=name, catch_response=True, **kwargs
        ) as response:
            if response.status_code not in expect:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                raise StepFailed
            response.success()
            try:
                return response.status_code, response.json()
            except ValueError:
                return response.status_code, None

    def skus(self) -> list[str]:
        with _lock:
            cached = _catalogue.get("skus")
        if cached is not None:
            return cached
        _, page = self.api("GET", "/products/?page_size=50", "browse: products api")
        skus = [
            v["sku"]
            for product in page["results"]
            if product.get("requires_shipping", True)
            for v in product["variants"]
            if v.get("available", 0) > 1000
        ]
        with _lock:
            _catalogue["skus"] = skus
        return skus

    def confirm_at_stripe(self, intent_id: str, client_secret: str, key: str, name):
        """Confirm as Stripe.js does, with the publishable key and secret."""
        self.client.post(
            f"{STRIPE}/v1/payment_intents/{intent_id}/confirm",
            data={"key": key, "client_secret": client_secret, **CARD},
            name=name,
        )


class Browser(ShopUser):
    """Pages and catalogue API a visitor reads."""

    weight = 4

    @task(3)
    def home(self):
        self.client.get("/", name="browse: home")

    @task(3)
    def products(self):
        with contextlib.suppress(StepFailed):
            self.skus()
            self.api("GET", "/products/", "browse: products api")

    @task(2)
    def categories(self):
        with contextlib.suppress(StepFailed):
            self.api("GET", "/categories/", "browse: categories api")

    @task(1)
    def pricing(self):
        self.client.get("/pricing/", name="browse: pricing page")


class CartUser(ShopUser):
    """A cart filled and looked at, never bought."""

    weight = 3

    @task
    def cart(self):
        with contextlib.suppress(StepFailed):
            skus = self.skus()
            _, cart = self.api(
                "POST", "/carts/", "cart: create", json={}, headers=idem()
            )
            for sku in skus[:3]:
                self.api(
                    "POST",
                    f"/carts/{cart['id']}/lines/",
                    "cart: add line",
                    json={"sku": sku, "quantity": 1},
                )
            self.api("GET", f"/carts/{cart['id']}/", "cart: view")


class Buyer(ShopUser):
    """The mobile checkout: cart → checkout → payment → confirm → complete."""

    weight = 2

    @task
    def checkout(self):
        with contextlib.suppress(StepFailed):
            self.buy()

    def buy(self):
        sku = self.skus()[0]
        _, cart = self.api("POST", "/carts/", "checkout: cart", json={}, headers=idem())
        self.api(
            "POST",
            f"/carts/{cart['id']}/lines/",
            "checkout: line",
            json={"sku": sku, "quantity": 1},
        )
        email = f"load-{uuid.uuid4().hex[:10]}@example.com"
        _, checkout = self.api(
            "POST",
            "/checkouts/",
            "checkout: start",
            json={"cart": cart["id"], "email": email},
            headers=idem(),
        )
        url = f"/checkouts/{checkout['id']}/"
        self.api(
            "PATCH",
            url,
            "checkout: address",
            json={"shipping_address": ADDRESS, "billing_same_as_shipping": True},
        )
        _, methods = self.api("GET", f"{url}shipping-methods/", "checkout: methods")
        self.api(
            "PATCH",
            url,
            "checkout: method",
            json={"shipping_method": methods[0]["id"]},
        )
        _, session = self.api(
            "POST", f"{url}payment/", "checkout: payment", headers=idem()
        )
        self.confirm_at_stripe(
            session["payment_intent_id"],
            session["client_secret"],
            session["publishable_key"],
            "checkout: confirm at stripe",
        )
        _, order = self.api(
            "POST", f"{url}complete/", "checkout: complete", headers=idem()
        )
        if order.get("status") != "paid":
            raise StepFailed


class Subscriber(ShopUser):
    """A signed-in customer subscribes, pays the first invoice, cancels."""

    weight = 1

    def on_start(self):
        shopper = next(_shoppers, None)
        if shopper is None:
            note_skipped("subscribe", "no seeded shoppers (LOADTEST_USERS_FILE)")
            raise StopUser
        with self.client.post(
            "/_allauth/app/v1/auth/login",
            json=shopper,
            name="subscribe: sign in",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                raise StopUser
            token = response.json()["meta"]["access_token"]
        self.auth = {"Authorization": f"Bearer {token}"}
        _, plans = self.api("GET", "/plans/", "subscribe: plans")
        self.prices = [
            price["id"]
            for plan in plans
            for price in plan.get("prices", [])
            if not price.get("trial_days") and not plan.get("trial_days")
        ]
        if not self.prices:
            note_skipped("subscribe", "no plan price without a trial is seeded")
            raise StopUser

    @task
    def subscribe_and_cancel(self):
        with contextlib.suppress(StepFailed):
            status, sub = self.api(
                "POST",
                "/subscriptions/",
                "subscribe: create",
                expect=(200, 201, 409),
                json={"price": self.prices[0]},
                headers={**self.auth, **idem()},
            )
            if status == 409:  # a live one left by an earlier run: cancel it
                self.cancel_live()
                return
            secret = sub.get("client_secret") or ""
            if sub.get("intent_type", sub.get("kind")) != "setup_intent" and secret:
                intent_id = secret.split("_secret")[0]
                self.confirm_at_stripe(
                    intent_id,
                    secret,
                    sub.get("publishable_key", ""),
                    "subscribe: confirm at stripe",
                )
            sub_id = (sub.get("subscription") or sub)["id"]
            # Active once Stripe's webhook reached the shop: poll as the app does.
            for _ in range(20):
                _, detail = self.api(
                    "GET",
                    f"/subscriptions/{sub_id}/",
                    "subscribe: detail",
                    headers=self.auth,
                )
                if detail["status"] != "incomplete":
                    break
                time.sleep(0.25)  # cooperative under locust's gevent
            else:
                note_skipped(
                    "subscribe: cancel", "subscription still incomplete after 5 s"
                )
                return
            self.api(
                "POST",
                f"/subscriptions/{sub_id}/cancel/",
                "subscribe: cancel",
                json={"at_period_end": False},
                headers=self.auth,
            )

    def cancel_live(self):
        _, page = self.api(
            "GET", "/subscriptions/", "subscribe: list", headers=self.auth
        )
        for sub in page.get("results", page) if isinstance(page, dict) else page:
            if sub.get("status") in ("active", "trialing", "past_due"):
                self.api(
                    "POST",
                    f"/subscriptions/{sub['id']}/cancel/",
                    "subscribe: cancel",
                    json={"at_period_end": False},
                    headers=self.auth,
                )


class UsageIngest(ShopUser):
    """Metered usage reports from a subscriber's client (issue 14's ingest API).

    Signs in as a seeded usage subscriber (a plan with the ``api_calls``
    metric and limits the load cannot reach), so every report must be counted:
    anything but 201 is a failure.
    """

    weight = 1

    def on_start(self):
        shopper = next(_usage_subscribers, None)
        if shopper is None:
            note_skipped("usage", "no seeded usage subscribers")
            raise StopUser
        with self.client.post(
            "/_allauth/app/v1/auth/login",
            json=shopper,
            name="usage: sign in",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                raise StopUser
            token = response.json()["meta"]["access_token"]
        self.auth = {"Authorization": f"Bearer {token}"}

    @task
    def report_usage(self):
        with self.client.post(
            "/api/v1/usage/",
            json={
                "metric": "api_calls",
                "quantity": 1,
                "idempotency_key": str(uuid.uuid4()),
            },
            headers=self.auth,
            name="usage: ingest",
            catch_response=True,
        ) as response:
            if response.status_code == 201:
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")


class WebhookBurst(ShopUser):
    """Stripe delivering a burst: recent events, each sent several times.

    The events are localstripe's own (real payment_intent.succeeded events of
    the load's orders), signed as Stripe signs them. Redeliveries must be
    answered 200 and change nothing (dj-stripe keeps each event id once).
    """

    weight = 1
    wait_time = between(2, 4)

    @task
    def burst(self):
        path = os.environ.get("LOADTEST_WEBHOOK_PATH")
        secret = os.environ.get("LOADTEST_WEBHOOK_SECRET", "")
        if not path:
            note_skipped(
                "webhooks: burst", "no webhook endpoint (LOADTEST_WEBHOOK_PATH)"
            )
            raise StopUser
        response = self.client.get(
            f"{STRIPE}/v1/events?type=payment_intent.succeeded&limit=5",
            headers={"Authorization": f"Bearer {os.environ['LOADTEST_STRIPE_KEY']}"},
            name="webhooks: list events at stripe",
        )
        events = response.json().get("data", []) if response.ok else []
        for event in events:
            body = json.dumps(event)
            for _ in range(3):
                stamp = int(time.time())
                signature = hmac.new(
                    secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256
                ).hexdigest()
                self.client.post(
                    path,
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        "Stripe-Signature": f"t={stamp},v1={signature}",
                    },
                    name="webhooks: deliver",
                )
