"""Account page actions on licence keys (the list is on the account page)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.core.exceptions import ApplicationError
from apps.subscriptions.exceptions import LicenceNotFound
from apps.subscriptions.services import licences

if TYPE_CHECKING:
    from apps.accounts.models import User


@login_required
@require_POST
def rotate(request: HttpRequest, licence_id: int) -> HttpResponse:
    """Replace the key and show the new one on this response only.

    No redirect: the full key must not be stored in a session or cookie to
    survive one, and it is shown once.
    """
    try:
        issued = licences.licence_rotate(
            user=cast("User", request.user), licence_id=licence_id
        )
    except LicenceNotFound as exc:
        raise Http404 from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("subscriptions:account")
    response = render(
        request, "subscriptions/licence_rotated.html", {"key": issued.key}
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def device_release(
    request: HttpRequest, licence_id: int, device_id: int
) -> HttpResponse:
    try:
        licences.licence_device_release(
            user=cast("User", request.user), licence_id=licence_id, device_pk=device_id
        )
    except LicenceNotFound as exc:
        raise Http404 from exc
    messages.success(request, "The device's seat is free.")
    return redirect("subscriptions:account")
