"""Money as integer minor units plus an ISO 4217 code, as Stripe stores it."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from apps.core.exceptions import CurrencyMismatch

# ISO 4217 exponents that differ from 2. Stripe treats these as zero-decimal.
_EXPONENT_OVERRIDES = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "MGA": 0, "PYG": 0, "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0,
    "XOF": 0, "XPF": 0, "BHD": 3, "JOD": 3, "KWD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def currency_exponent(currency: str) -> int:
    return _EXPONENT_OVERRIDES.get(currency.upper(), 2)


@dataclass(frozen=True, slots=True)
class Money:
    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount_minor, int) or isinstance(
            self.amount_minor, bool
        ):
            raise TypeError("Money amounts are integers in minor units")

    def __add__(self, other: "Money") -> "Money":
        self._check(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self._check(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __mul__(self, quantity: int) -> "Money":
        return Money(self.amount_minor * int(quantity), self.currency)

    def _check(self, other: "Money") -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(self.currency, other.currency)

    @classmethod
    def zero(cls, currency: str) -> "Money":
        return cls(0, currency)

    def as_api(self) -> dict[str, int | str]:
        return money_api(self.amount_minor, self.currency)

    def as_decimal(self) -> Decimal:
        return Decimal(self.amount_minor).scaleb(-currency_exponent(self.currency))

    def format(self) -> str:
        exponent = currency_exponent(self.currency)
        value = self.as_decimal().quantize(
            Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_UP
        )
        symbol = _SYMBOLS.get(self.currency.upper())
        text = f"{value:,.{exponent}f}"
        return f"{symbol}{text}" if symbol else f"{text} {self.currency.upper()}"


def money_api(amount_minor: int, currency: str) -> dict[str, int | str]:
    """The one wire form of an amount, as ``MoneySerializer`` documents it.

    Response bodies, error details and outbox payloads all build amounts here;
    a serializer instance per amount would cost the checkout ~20 µs each.
    """
    return {"amount": amount_minor, "currency": currency}


def percent_of(amount_minor: int, basis_points: int) -> int:
    """Return basis_points/10,000 of amount_minor, rounded half up."""
    return (amount_minor * basis_points + 5_000) // 10_000


def allocate(total_minor: int, weights: list[int]) -> list[int]:
    """Split total_minor across weights by largest remainder; parts sum to total.

    Ties go to the earlier weight so the result is deterministic.
    """
    weight_sum = sum(weights)
    if not weights:
        return []
    if weight_sum == 0:
        return [0] * len(weights)
    shares = [total_minor * w // weight_sum for w in weights]
    remainders = [(total_minor * w % weight_sum, -i) for i, w in enumerate(weights)]
    leftover = total_minor - sum(shares)
    for _, neg_index in sorted(remainders, reverse=True)[:leftover]:
        shares[-neg_index] += 1
    return shares


def to_minor(value: Decimal | str, currency: str) -> int:
    """Convert a decimal major-unit amount (admin input) to minor units, half up."""
    exponent = currency_exponent(currency)
    return int(
        (Decimal(value).scaleb(exponent)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    )


def to_minor_exact(value: Decimal, currency: str) -> int:
    """Convert a major-unit amount to minor units exactly, with no rounding step.

    Trailing zeros are fine (``19.990`` USD is 1999, ``1200.00`` JPY is 1200).
    Raise ValueError when the amount is not finite or has more decimal places
    than the currency has (``19.999`` USD, ``12.5`` JPY).
    """
    try:
        return scale_exact(value, currency_exponent(currency))
    except ValueError as exc:
        if value.is_finite():
            raise ValueError(
                f"{value} has more decimal places than {currency.upper()} allows"
            ) from exc
        raise


def scale_exact(value: Decimal, places: int) -> int:
    """Return ``value`` times 10**places as an exact integer (12.5, 2 → 1250).

    Trailing zeros are fine (``12.500`` with 2 places is 1250).
    Raise ValueError when the value is not finite or has more than ``places``
    decimal places.
    """
    # Integer arithmetic on the digits: Decimal operations such as scaleb()
    # round to the context precision (28 digits) and would hide extra places.
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # "n", "N" or "F": NaN or infinity
        raise ValueError(f"{value} is not an amount")
    coefficient = int("".join(map(str, digits)) or "0")
    shift = exponent + places
    if shift >= 0:
        scaled = coefficient * 10**shift
    else:
        scaled, remainder = divmod(coefficient, 10**-shift)
        if remainder:
            raise ValueError(f"{value} has more than {places} decimal places")
    return -scaled if sign else scaled


def basis_points_as_percent(basis_points: int) -> Decimal:
    """Return basis points as an exact percentage (1250 → 12.5, 1000 → 10)."""
    return Decimal(basis_points) / 100
