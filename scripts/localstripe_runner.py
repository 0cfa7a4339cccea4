"""Serve the published localstripe (fake Stripe API) with the shop's shims.

localstripe is GPL and used as an external dev/test tool only: nothing under
apps/ imports it. This script imports it, patches the gaps the shop hits, and
serves it on loopback with its own data file:

    python scripts/localstripe_runner.py --port 8420 --data-file var/ls.pickle

Each shim has a name; ``--without-shim NAME`` (repeatable, or ``all``) turns it
off so tests can show that published localstripe misbehaves without it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import pickle
import re
import socket
import tempfile
import time
from pathlib import Path

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError
from localstripe.resources import (
    PaymentIntent,
    PaymentMethod,
    StripeObject,
    SubscriptionItem,
    store,
)

SHIMS: dict[str, str] = {
    "account": "GET /v1/account(s) answers a fixed test account (dj-stripe "
    "resolves the owner account through it; published: 404)",
    "product_features": "GET /v1/products/{id}/features answers an empty list "
    "(dj-stripe syncs product features; published: 404)",
    "subscription_item_subscription": "subscription items carry `subscription` "
    "(dj-stripe column is NOT NULL; published omits it)",
    "default_tax_rates": "`default_tax_rates: null` is exported as [] "
    "(Stripe always sends a list)",
    "expand_discounts": "expand=discounts is tolerated and `discounts` is [] "
    "(published: 400 Bad expand 'discounts')",
    "payment_method_list_type": "GET /v1/payment_methods without `type` lists "
    "every type (published: 400)",
    "idempotency": "POSTs with an Idempotency-Key replay the first response, "
    "as Stripe does (published ignores the header)",
    "intent_update_types": "POST /v1/payment_intents/{id} stores amount as an "
    "integer (published keeps the form string)",
    "decline_card_0002": "4000 0000 0000 0002 is declined when charged "
    "(published declines it only when attaching to a customer)",
    "reconfirm_after_decline": "a declined PaymentIntent takes a new payment "
    "method and can be confirmed again (published: stuck, 400)",
    "browser_confirm": "POST /v1/payment_intents/{id}/confirm accepts the "
    "publishable key + client_secret, payment_method and payment_method_data "
    "(what Stripe.js sends; published: 401 / 500)",
    "subscription_default_incomplete": "subscriptions take payment_behavior="
    "default_incomplete: the first invoice gets an unconfirmed PaymentIntent (a "
    "trial a SetupIntent) for the client to confirm, and the paid card becomes "
    "the customer's default (published: 400, or 404 without a saved card)",
    "stripe_js": "/js.stripe.com/v3/ confirmCardPayment confirms first and "
    "shows the fake 3-D Secure box only on requires_action (localstripe#253)",
    "invoice_pay_failure": "POST /v1/invoices/{id}/pay on a renewal whose charge "
    "fails or needs 3-D Secure moves the subscription to past_due and sends "
    "invoice.payment_failed, and a declined charge answers 402 card_declined, "
    "as Stripe does (published: 200, invoice quietly open, subscription active)",
    "subscription_discounts": "subscriptions take discounts[0][coupon] (or "
    "coupon) on create and update, and their invoices take the coupon off while "
    "its duration (once, repeating, forever) lasts, as Stripe does (published: "
    "400 Unexpected discounts; invoices never discounted). "
    "See scripts/localstripe_discounts.py",
}

logger = logging.getLogger("localstripe.runner")

TEST_ACCOUNT = {
    "id": "acct_localstripe0000",
    "object": "account",
    "business_profile": {
        "name": "Shop (localstripe)",
        "support_email": "shop@example.com",
        "url": None,
        "mcc": None,
        "product_description": None,
        "support_phone": None,
        "support_url": None,
    },
    "business_type": "company",
    "capabilities": {"card_payments": "active", "transfers": "active"},
    "charges_enabled": True,
    "country": "FR",
    "created": 1_700_000_000,
    "default_currency": "eur",
    "details_submitted": True,
    "email": "shop@example.com",
    "external_accounts": {"object": "list", "data": [], "has_more": False},
    "livemode": False,
    "metadata": {},
    "payouts_enabled": True,
    "requirements": {},
    "settings": {
        "branding": {"icon": None, "logo": None, "primary_color": None},
        "dashboard": {"display_name": "Shop", "timezone": "Etc/UTC"},
        "payments": {"statement_descriptor": "SHOP"},
    },
    "tos_acceptance": {},
    "type": "standard",
}


def empty_list(url: str) -> dict:
    return {"object": "list", "data": [], "has_more": False, "url": url}


# --- data file --------------------------------------------------------------


class Persistence:
    """Write-behind persistence of localstripe's store.

    Published localstripe pickles the whole store on every write (several
    times per request), so each confirm costs more as intents pile up: with
    1,700 of them, three times more. Writes here only mark the store dirty; a
    background task writes it at most every ``interval`` seconds, and shutdown
    (SIGTERM, SIGINT) writes whatever is left.

    A dump blocks the event loop for as long as pickling the whole store
    takes (63 ms at 13,000 objects), so the wait after one grows with it: at
    least ``DUMP_SHARE`` times its duration, and a growing store costs every
    request a bounded, not growing, share of the loop.
    """

    DUMP_SHARE = 100  # wait at least 100 times a dump's duration: 1 % of the loop

    def __init__(self, path: Path, interval: float):
        self.path = path
        self.interval = interval
        self.dirty = False
        self.dumps = 0
        self.last_dump_seconds = 0.0

    def next_wait(self) -> float:
        return max(self.interval, self.DUMP_SHARE * self.last_dump_seconds)

    def load(self) -> None:
        try:
            with open(self.path, "rb") as f:
                old = pickle.load(f)  # this instance's own file
        except FileNotFoundError:
            return
        dict.clear(store)
        dict.update(store, old)
        LIST_INDEX.rebuild()

    def write(self) -> None:
        started = time.monotonic()
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(dict(store), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.path)
        self.last_dump_seconds = time.monotonic() - started
        self.dirty = False
        self.dumps += 1
        print(f"persisted {len(store)} objects (dump #{self.dumps})", flush=True)

    def flush(self) -> None:
        if self.dirty:
            self.write()

    async def _periodically(self) -> None:
        while True:
            await asyncio.sleep(self.next_wait())
            self.flush()

    def install(self, app: web.Application) -> None:
        """Route localstripe's per-write dumps here and flush on a timer and at exit."""

        def mark_dirty(_store) -> None:
            self.dirty = True

        resources.Store.try_load_from_disk = lambda _store: self.load()
        resources.Store.dump_to_disk = mark_dirty

        async def start(_app) -> None:
            _app["persistence_task"] = asyncio.get_running_loop().create_task(
                self._periodically()
            )

        async def stop(_app) -> None:
            _app["persistence_task"].cancel()
            # aiohttp runs this on SIGTERM and SIGINT (run_app's handlers).
            self.flush()

        app.on_startup.append(start)
        app.on_cleanup.append(stop)


class ListIndex:
    """The store's keys by object type, so that listing a type reads only it.

    Published localstripe lists objects by scanning the whole store, and a
    charge's export lists its refunds that way three times (``refunds``,
    ``amount_refunded``, ``refunded``). A confirm and each event about a
    payment export its charge, so their cost grew with the store: 1,000
    orders in, a confirm took twice as long and localstripe twice the CPU
    (issue 12's benchmark). Kept by the store's own writes and deletes, in
    the store's order, and rebuilt after the store is loaded or cleared.
    """

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, None]] = {}

    def rebuild(self) -> None:
        self.keys = {}
        for key in store:
            self.add(key)

    def add(self, key: str) -> None:
        self.keys.setdefault(key.split(":", 1)[0], {})[key] = None

    def remove(self, key: str) -> None:
        self.keys.get(key.split(":", 1)[0], {}).pop(key, None)

    def objects(self, object_type: str) -> list:
        return [store[key] for key in self.keys.get(object_type, ())]

    def install(self) -> None:
        index = self
        original_set = resources.Store.__setitem__
        original_del = resources.Store.__delitem__

        def __setitem__(self, key, value):
            original_set(self, key, value)
            index.add(key)

        def __delitem__(self, key):
            original_del(self, key)
            index.remove(key)

        def clear(self):
            # DELETE /_config/data empties the store with clear(): an index
            # left behind would list objects that are gone, and the data file
            # would bring them back at the next start.
            dict.clear(self)
            index.rebuild()
            self.dump_to_disk()

        @classmethod
        def _api_list_all(cls, url, limit=None, starting_after=None, **kwargs):
            # Published code, with the index instead of the scan.
            if kwargs:
                raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
            li = resources.List(url, limit=limit, starting_after=starting_after)
            li._list = index.objects(cls.object)
            return li

        resources.Store.__setitem__ = __setitem__
        resources.Store.__delitem__ = __delitem__
        resources.Store.clear = clear
        StripeObject._api_list_all = _api_list_all
        self.rebuild()


LIST_INDEX = ListIndex()


# --- resource-level shims (patched on localstripe's classes) ---------------

_DISCOUNTABLE = {"invoice", "subscription", "invoiceitem", "line_item"}


def shim_export(enabled: set[str]) -> None:
    original = StripeObject._export

    def _export(self, expand=None):
        if "expand_discounts" in enabled and isinstance(expand, list):
            # dj-stripe asks for expand=discounts / lines.data.discounts, which
            # localstripe does not model: drop those paths, export [] below.
            expand = [p for p in expand if p.split(".")[-1] != "discounts"]
        obj = original(self, expand=expand)
        if (
            "subscription_item_subscription" in enabled
            and isinstance(self, SubscriptionItem)
            and "subscription" not in obj
        ):
            obj["subscription"] = self._subscription
        if "default_tax_rates" in enabled and obj.get("default_tax_rates", 0) is None:
            obj["default_tax_rates"] = []
        if "expand_discounts" in enabled and self.object in _DISCOUNTABLE:
            obj.setdefault("discounts", [])
        return obj

    StripeObject._export = _export


def shim_payment_method_list_type() -> None:
    original = PaymentMethod._api_list_all.__func__

    @classmethod
    def _api_list_all(cls, url, customer=None, type=None, **kwargs):
        if type is not None:
            return original(cls, url, customer=customer, type=type, **kwargs)
        # Without `type`, Stripe lists every type: take the card list (the
        # only type published localstripe lists) plus the rest.
        li = original(cls, url, customer=customer, type="card", **kwargs)
        li._list = [
            pm
            for key, pm in store.items()
            if key.startswith("payment_method:") and pm.customer == customer
        ]
        return li

    PaymentMethod._api_list_all = _api_list_all


def shim_decline_card_0002() -> None:
    original = PaymentMethod._charging_is_declined

    def _charging_is_declined(self):
        if self.type == "card" and self._card_number == "4000000000000002":
            return True
        return original(self)

    PaymentMethod._charging_is_declined = _charging_is_declined


def _forget_failed_charge(intent) -> None:
    # Real Stripe lets a declined intent (requires_payment_method) take a new
    # payment method and be confirmed again; localstripe derives the status
    # from latest_charge, so a failed charge would pin it there forever.
    if intent.latest_charge is not None and intent.latest_charge.status == "failed":
        intent._failed_charges = [
            *getattr(intent, "_failed_charges", []),
            intent.latest_charge,
        ]
        intent.latest_charge = None


def shim_intent_update(enabled: set[str]) -> None:
    original = PaymentIntent._update

    def _update(self, **data):
        if "intent_update_types" in enabled and "amount" in data:
            amount = resources.try_convert_to_int(data["amount"])
            if not isinstance(amount, int) or amount <= 0:
                raise UserError(400, "Bad request")
            data["amount"] = amount
        if "reconfirm_after_decline" in enabled and data.get("payment_method"):
            PaymentMethod._api_retrieve(data["payment_method"])  # 404 if unknown
            _forget_failed_charge(self)
        original(self, **data)

    PaymentIntent._update = _update


_DEFAULT_INCOMPLETE: list[bool] = []


def shim_subscription_default_incomplete() -> None:
    Subscription = resources.Subscription
    original_init = Subscription.__init__
    original_create_invoice = Subscription._create_invoice
    original_success = Subscription._on_initial_payment_success

    def __init__(self, payment_behavior="allow_incomplete", **data):
        # Stripe's own params for this flow that localstripe does not model.
        data.pop("payment_settings", None)
        if payment_behavior != "default_incomplete":
            return original_init(self, payment_behavior=payment_behavior, **data)
        _DEFAULT_INCOMPLETE.append(True)
        try:
            original_init(self, payment_behavior="allow_incomplete", **data)
        finally:
            _DEFAULT_INCOMPLETE.pop()
        self.pending_setup_intent = None
        if self.trial_end is not None or self.trial_period_days is not None:
            # No invoice in a trial: collect the card with a SetupIntent.
            now = int(time.time())
            self.trial_start = now
            if self.trial_end is None:
                self.trial_end = now + self.trial_period_days * 86400
            self.status = "trialing"
            self.pending_setup_intent = resources.SetupIntent(
                customer=self.customer, usage="off_session"
            ).id

    def _create_invoice(self):
        if not _DEFAULT_INCOMPLETE:
            return original_create_invoice(self)
        invoice = resources.Invoice(
            customer=self.customer,
            subscription=self.id,
            items=list(self.items._list),
            date=self.current_period_start,
        )
        invoice._finalize()
        if invoice.total <= 0:
            invoice._on_payment_success()
            return
        intent = PaymentIntent(
            amount=invoice.total, currency=invoice.currency, customer=self.customer
        )
        intent.invoice = invoice.id
        invoice.payment_intent = intent.id

    def _on_initial_payment_success(self, invoice):
        original_success(self, invoice)
        intent = invoice.payment_intent and PaymentIntent._api_retrieve(
            invoice.payment_intent
        )
        if intent and intent.payment_method:
            # save_default_payment_method=on_subscription: renewals charge it.
            pm = PaymentMethod._api_retrieve(intent.payment_method)
            if pm.customer is None:
                pm.customer = self.customer
            customer = resources.Customer._api_retrieve(self.customer)
            customer.invoice_settings["default_payment_method"] = pm.id

    Subscription.__init__ = __init__
    Subscription._create_invoice = _create_invoice
    Subscription._on_initial_payment_success = _on_initial_payment_success


def invoice_pay_failure(invoice_id: str) -> UserError | None:
    """After POST /v1/invoices/{id}/pay: what Stripe does when the charge failed.

    localstripe's own path for a failed recurring payment sends
    invoice.payment_failed and moves the subscription to past_due; its pay
    route never takes it. A declined charge is answered 402, as Stripe does.
    """
    obj = resources.Invoice._api_retrieve(invoice_id)
    if obj.status != "open" or not obj.payment_intent or not obj.subscription:
        return None
    intent = PaymentIntent._api_retrieve(obj.payment_intent)
    if intent.status not in ("requires_action", "requires_payment_method"):
        return None
    sub = resources.Subscription._api_retrieve(obj.subscription)
    if sub.status in ("incomplete", "incomplete_expired", "canceled"):
        return None
    obj._on_payment_failure_now()
    if intent.status == "requires_payment_method" and intent.latest_charge:
        charge = intent.latest_charge
        error = UserError(
            402,
            charge.failure_message,
            {
                "code": charge.failure_code,
                "decline_code": "generic_decline",
                "charge": charge.id,
            },
        )
        error.body["error"]["type"] = "card_error"
        return error
    return None


# --- HTTP-level shims (one middleware, placed before localstripe's auth) ----

# In memory only: replays survive as long as this process (Stripe keeps 24 h).
_IDEMPOTENT: dict[tuple[str, str, str], tuple[int, bytes]] = {}


def build_middleware(enabled: set[str], js_text: str):
    confirm_path = re.compile(r"^/v1/payment_intents/(pi_\w+)/confirm$")
    features_path = re.compile(r"^/v1/products/([^/]+)/features$")
    account_path = re.compile(r"^/v1/accounts?(?:/([^/]+))?$")
    pay_path = re.compile(r"^/v1/invoices/(in_\w+)/pay$")

    def paying(handler, invoice_id: str):
        async def pay_then_fail(request):
            response = await handler(request)
            if getattr(response, "status", 0) == 200:
                error = invoice_pay_failure(invoice_id)
                if error is not None:
                    store.dump_to_disk()
                    return error.to_response()
            return response

        return pay_then_fail

    def authorized_by_secret_key(request) -> bool:
        return server.get_api_key(request) is not None

    async def browser_confirm(request, intent_id: str):
        data = await server.get_post_data(request, remove_auth=False) or {}
        data.update(server.unflatten_data(request.query) or {})
        intent = PaymentIntent._api_retrieve(intent_id)
        client_secret = data.pop("client_secret", None)
        key = data.pop("key", None)
        if not authorized_by_secret_key(request) and not (
            isinstance(key, str)
            and key.startswith("pk_")
            and client_secret == intent.client_secret
        ):
            raise UserError(401, "Unauthorized")
        for ignored in ("use_stripe_sdk", "return_url", "payment_user_agent"):
            data.pop(ignored, None)
        data.pop("referrer", None)
        expand = data.pop("expand", None)
        pm_data = data.pop("payment_method_data", None)
        payment_method = data.pop("payment_method", None)
        if pm_data:
            payment_method = PaymentMethod(**pm_data).id
        if payment_method:
            intent._update(payment_method=payment_method)
            if "reconfirm_after_decline" in enabled:
                _forget_failed_charge(intent)
        obj = PaymentIntent._api_confirm(intent_id, **data)
        return server.json_response(obj._export(expand=expand))

    @web.middleware
    async def shim_middleware(request, handler):
        path, method = request.path, request.method
        if method == "POST" and "invoice_pay_failure" in enabled:
            m = pay_path.match(path)
            if m:
                handler = paying(handler, m.group(1))
        if method == "GET" and "account" in enabled:
            m = account_path.match(path)
            if m:
                if path == "/v1/accounts":
                    return server.json_response(
                        {**empty_list(path), "data": [TEST_ACCOUNT]}
                    )
                if m.group(1) in (None, TEST_ACCOUNT["id"]):
                    return server.json_response(TEST_ACCOUNT)
        if method == "GET" and "product_features" in enabled:
            m = features_path.match(path)
            if m:
                resources.Product._api_retrieve(m.group(1))  # 404 if unknown
                return server.json_response(empty_list(path))
        if method == "GET" and path == "/js.stripe.com/v3/" and "stripe_js" in enabled:
            return web.Response(text=js_text, content_type="application/javascript")
        if method == "POST" and "browser_confirm" in enabled:
            m = confirm_path.match(path)
            if m:
                try:
                    return await browser_confirm(request, m.group(1))
                finally:
                    store.dump_to_disk()
        key = request.headers.get("Idempotency-Key")
        if method == "POST" and key and "idempotency" in enabled:
            cache_key = (server.get_api_key(request) or "", path, key)
            if cache_key in _IDEMPOTENT:
                status, body = _IDEMPOTENT[cache_key]
                response = web.Response(
                    body=body, status=status, content_type="application/json"
                )
                response.headers["Idempotent-Replayed"] = "true"
                return response
            response = await handler(request)
            if isinstance(response, web.Response) and response.status < 500:
                _IDEMPOTENT[cache_key] = (response.status, response.body)
            return response
        return await handler(request)

    return shim_middleware


def error_capturing(handler_middleware):
    """Render UserError raised inside the shim middleware like localstripe."""

    @web.middleware
    async def middleware(request, handler):
        try:
            return await handler_middleware(request, handler)
        except UserError as e:
            return e.to_response()

    return middleware


STRIPE_JS_SHIM = r"""
// --- shop shim (scripts/localstripe_runner.py) -----------------------------
// Published confirmCardPayment always shows the 3-D Secure box and then calls
// _authenticate, which answers 400 unless the intent is requires_action
// (localstripe#253). Confirm first, as Stripe.js does; authenticate only when
// the intent asks for it.
(function () {
  const localstripeStripe = Stripe;
  async function post(path, payload) {
    const response = await fetch(LOCALSTRIPE_BASE_API + path, {
      method: 'POST',
      body: JSON.stringify(payload),
    });
    const body = await response.json().catch(() => ({}));
    if (response.status !== 200 || body.error) {
      return {error: body.error || {message: 'HTTP ' + response.status}};
    }
    return {body: body};
  }
  Stripe = (apiKey, options) => {
    const stripe = localstripeStripe(apiKey, options);
    stripe.confirmCardPayment = async (clientSecret, data) => {
      console.log('localstripe (shop shim): Stripe().confirmCardPayment()');
      const pi = clientSecret.match(/^(pi_\w+)_secret_/)[1];
      const payload = {key: apiKey, client_secret: clientSecret};
      const method = data && data.payment_method;
      if (typeof method === 'string') {
        payload.payment_method = method;
      } else if (method && method.card && method.card.value) {
        payload.payment_method_data = {
          type: 'card',
          card: method.card.value.card,
          billing_details: method.billing_details || {},
        };
      }
      let result = await post(`/v1/payment_intents/${pi}/confirm`, payload);
      if (result.error) {
        return {error: {...result.error, type: result.error.type || 'card_error'}};
      }
      let intent = result.body;
      if (intent.status === 'requires_action') {
        const success = await openModal(
          '3D Secure\nDo you want to confirm or cancel?',
          'Complete authentication', 'Fail authentication');
        result = await post(
          `/v1/payment_intents/${pi}/_authenticate?success=${success}`,
          {key: apiKey, client_secret: clientSecret});
        if (result.error) {
          return {error: result.error};
        }
        intent = result.body;
        if (intent.status === 'requires_payment_method') {
          return {error: {
            type: 'card_error',
            code: 'payment_intent_authentication_failure',
            message: 'We are unable to authenticate your payment method. ' +
                     'Please choose a different payment method and try again.',
            payment_intent: intent,
          }};
        }
      }
      return {paymentIntent: intent};
    };
    stripe.handleCardPayment = async function (clientSecret, element, data) {
      return this.confirmCardPayment(clientSecret, {
        payment_method: {card: element, ...((data || {}).payment_method_data)},
      });
    };
    return stripe;
  };
})();
"""


def build_stripe_js() -> str:
    original = Path(server.__file__).with_name("localstripe-v3.js").read_text()
    return original + STRIPE_JS_SHIM


# --- entry point --------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("LOCALSTRIPE_PORT", 8420))
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (published localstripe binds every interface)",
    )
    parser.add_argument(
        "--data-file",
        type=Path,
        default=None,
        help="store file (default: <tmp>/localstripe-<port>.pickle)",
    )
    parser.add_argument("--from-scratch", action="store_true")
    parser.add_argument(
        "--persist-interval",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="write the store to the data file at most this often (and at exit)",
    )
    parser.add_argument(
        "--without-shim",
        action="append",
        default=[],
        choices=[*SHIMS, "all"],
        metavar="NAME",
        help="disable a shim (repeatable; 'all' disables every one): "
        + ", ".join(SHIMS),
    )
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    disabled = set(SHIMS) if "all" in args.without_shim else set(args.without_shim)
    enabled = set(SHIMS) - disabled
    data_file = args.data_file or (
        Path(tempfile.gettempdir()) / f"localstripe-{args.port}.pickle"
    )
    data_file.parent.mkdir(parents=True, exist_ok=True)

    persistence = Persistence(data_file.resolve(), args.persist_interval)
    LIST_INDEX.install()
    shim_export(enabled)
    shim_intent_update(enabled)
    if "payment_method_list_type" in enabled:
        shim_payment_method_list_type()
    if "decline_card_0002" in enabled:
        shim_decline_card_0002()
    if "subscription_default_incomplete" in enabled:
        shim_subscription_default_incomplete()
    if "subscription_discounts" in enabled:
        # Run as a script: this file's directory is on sys.path.
        import localstripe_discounts

        localstripe_discounts.install()

    app = server.app
    persistence.install(app)
    # After localstripe's error middleware, before its auth middleware.
    app.middlewares.insert(
        1, error_capturing(build_middleware(enabled, build_stripe_js()))
    )

    if args.from_scratch:
        store.clear()
        LIST_INDEX.rebuild()
        persistence.write()
    else:
        persistence.load()

    access_log = logging.getLogger("aiohttp.access")
    access_log.setLevel(logging.INFO)
    access_log.addHandler(logging.StreamHandler())
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    print(
        f"localstripe on http://{args.host}:{args.port} data={data_file} "
        f"shims={','.join(sorted(enabled)) or '-'} (started {time.ctime()})",
        flush=True,
    )
    web.run_app(app, sock=sock, access_log=access_log, print=None)


if __name__ == "__main__":
    main()
