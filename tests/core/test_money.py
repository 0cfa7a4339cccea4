"""Exact conversion between admin input (major units) and stored minor units."""

from decimal import Decimal

import pytest

from apps.core.money import Money, to_minor_exact


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("19.99", "USD", 1999),
        ("19.9", "USD", 1990),
        ("19", "USD", 1900),
        ("19.990", "USD", 1999),
        ("0", "USD", 0),
        ("1200", "JPY", 1200),
        ("1200.00", "JPY", 1200),
        ("1200", "jpy", 1200),
        ("1.234", "KWD", 1234),
        ("1E+3", "USD", 100000),
        ("92233720368547758.07", "USD", 9223372036854775807),
    ],
)
def test_to_minor_exact_converts_without_rounding(text, currency, minor):
    assert to_minor_exact(Decimal(text), currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("19.999", "USD"),
        ("12.5", "JPY"),
        ("0.001", "EUR"),
        ("1.2345", "KWD"),
        # More digits than the default 28-digit context: scaleb() would round
        # this to 2000 and accept it.
        ("19.99999999999999999999999999999", "USD"),
    ],
)
def test_to_minor_exact_too_many_decimal_places_raises(text, currency):
    with pytest.raises(ValueError, match="decimal places"):
        to_minor_exact(Decimal(text), currency)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_to_minor_exact_not_finite_raises(text):
    with pytest.raises(ValueError, match="not an amount"):
        to_minor_exact(Decimal(text), "USD")


def test_to_minor_exact_keeps_the_sign():
    assert to_minor_exact(Decimal("-1.50"), "USD") == -150


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (1999, "USD", "19.99"),
        (1900, "USD", "19.00"),
        (0, "USD", "0.00"),
        (5, "EUR", "0.05"),
        (1200, "JPY", "1200"),
        (1, "KWD", "0.001"),
        (123456789012, "USD", "1234567890.12"),
        (9223372036854775807, "USD", "92233720368547758.07"),
    ],
)
def test_money_as_decimal_reads_as_plain_decimal_that_converts_back(
    minor, currency, text
):
    amount = Money(minor, currency).as_decimal()

    assert str(amount) == text
    assert to_minor_exact(amount, currency) == minor
