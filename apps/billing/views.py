"""Stripe's webhook endpoint: dj-stripe's view behind the shop's own door."""

from __future__ import annotations

import logging

import stripe
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from djstripe.views import ProcessWebhookView

from apps.billing.exceptions import PaymentProviderError, TransientError
from apps.billing.handlers import DEBUG_SECRET_HEADER

logger = logging.getLogger(__name__)


class StripeWebhookView(ProcessWebhookView):
    """Refuse dj-stripe's debug secret header; never answer a bad event with 500.

    The header would let the sender choose the secret the signature is
    checked with (dj-stripe honours it whenever DEBUG is on). An event Stripe
    itself refuses to describe (an unknown object) is answered 400 and kept
    as an invalid-processing trigger row by dj-stripe; a Stripe outage is 503
    so that Stripe delivers the event again later.
    """

    def post(self, request: HttpRequest, uuid) -> HttpResponse:
        if DEBUG_SECRET_HEADER in request.headers:
            logger.warning("webhook refused: it carries %s", DEBUG_SECRET_HEADER)
            return HttpResponseBadRequest()
        try:
            return super().post(request, uuid)
        except (
            TransientError,
            stripe.APIConnectionError,
            stripe.APIError,
            stripe.RateLimitError,
        ) as exc:
            logger.warning("webhook not processed, Stripe unreachable: %s", exc)
            return HttpResponse(status=503)
        except (stripe.InvalidRequestError, PaymentProviderError) as exc:
            logger.warning("webhook refused, Stripe does not know its object: %s", exc)
            return HttpResponseBadRequest()
