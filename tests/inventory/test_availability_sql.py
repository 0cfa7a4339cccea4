"""with_variant_availability (SQL written once) counts what
variants_with_availability (ORM subqueries) counts: on-hand stock, and only
active reservations that have not expired, to the microsecond."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.carts.models import CartLine
from apps.inventory.models import Reservation, Variant
from apps.inventory.selectors import (
    variants_with_availability,
    with_variant_availability,
)
from tests.carts.factories import CartLineFactory
from tests.inventory.factories import ReservationFactory

pytestmark = pytest.mark.django_db


def test_written_sql_counts_as_the_orm_subqueries(time_machine):
    now = timezone.now().replace(microsecond=500_000)
    time_machine.move_to(now, tick=False)
    line = CartLineFactory()
    variant = line.variant
    just = dt.timedelta(microseconds=1)
    ReservationFactory(variant=variant, quantity=2, expires_at=now + just)
    ReservationFactory(variant=variant, quantity=3, expires_at=now - just)
    ReservationFactory(variant=variant, quantity=5, expires_at=now)  # ends now
    ReservationFactory(
        variant=variant,
        quantity=7,
        status=Reservation.Status.RELEASED,
        expires_at=now + dt.timedelta(hours=1),
    )

    orm = variants_with_availability(Variant.objects.filter(pk=variant.pk)).get()
    written = with_variant_availability(
        Variant.objects.filter(pk=variant.pk), variant_field="id"
    ).get()
    through_line = with_variant_availability(
        CartLine.objects.filter(pk=line.pk), variant_field="variant"
    ).get()

    assert orm.stock_reserved == 2
    for annotated in (written, through_line):
        assert annotated.stock_reserved == orm.stock_reserved
        assert annotated.stock_on_hand == orm.stock_on_hand
