"""Account error types; codes are part of the API contract."""

from apps.core.exceptions import NotFound


class AddressNotFound(NotFound):
    default_code = "address_not_found"
