from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from apps.accounts.forms import AddressForm, ProfileForm
from apps.accounts.selectors import address_get_for_user, address_list_for_user
from apps.accounts.services import (
    address_create,
    address_delete,
    address_update,
    user_profile_update,
)
from apps.core.exceptions import NotFound, ValidationFailed
from apps.core.ratelimit import rate_limit

if TYPE_CHECKING:
    from apps.accounts.models import Address, User

    class AuthenticatedHttpRequest(HttpRequest):
        """What every view here gets: @login_required lets only users through."""

        user: User


# Saving addresses and profiles is cheap to abuse (ACCOUNT_WRITE_RATE).
limit_writes = rate_limit("account-write", methods=["POST"])


def _address_or_404(request: AuthenticatedHttpRequest, address_id: int) -> Address:
    try:
        return address_get_for_user(user=request.user, address_id=address_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
@limit_writes
@require_http_methods(["GET", "POST"])
def profile(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, initial={"name": request.user.name})
    if request.method == "POST" and form.is_valid():
        try:
            user_profile_update(user=request.user, name=form.cleaned_data["name"])
        except ValidationFailed as exc:
            for field, errors in exc.details.get("fields", {}).items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, "Your profile was saved.")
            return redirect("accounts:profile")
    addresses = address_list_for_user(user=request.user)
    return render(
        request, "accounts/profile.html", {"form": form, "addresses": addresses}
    )


@login_required
def address_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    addresses = address_list_for_user(user=request.user)
    return render(request, "accounts/address_list.html", {"addresses": addresses})


@login_required
@limit_writes
@require_http_methods(["GET", "POST"])
def address_add(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = AddressForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            address_create(user=request.user, data=form.to_data())
        except ValidationFailed as exc:
            form.add_service_errors(exc.details.get("fields", {}))
        else:
            messages.success(request, "Address saved.")
            return redirect("accounts:address-list")
    return render(
        request, "accounts/address_form.html", {"form": form, "address": None}
    )


@login_required
@limit_writes
@require_http_methods(["GET", "POST"])
def address_edit(request: AuthenticatedHttpRequest, address_id: int) -> HttpResponse:
    address = _address_or_404(request, address_id)
    initial = {field: getattr(address, field) for field in AddressForm.base_fields}
    form = AddressForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            address_update(address=address, data=form.to_data())
        except ValidationFailed as exc:
            form.add_service_errors(exc.details.get("fields", {}))
        else:
            messages.success(request, "Address updated.")
            return redirect("accounts:address-list")
    return render(
        request, "accounts/address_form.html", {"form": form, "address": address}
    )


@login_required
@limit_writes
@require_http_methods(["GET", "POST"])
def address_remove(request: AuthenticatedHttpRequest, address_id: int) -> HttpResponse:
    address = _address_or_404(request, address_id)
    if request.method == "POST":
        address_delete(address=address)
        messages.success(request, "Address deleted.")
        return redirect("accounts:address-list")
    return render(request, "accounts/address_confirm_delete.html", {"address": address})
