"""Writes for plans and prices: validation, grandfathering, the Stripe push."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.billing import gateway
from apps.billing.exceptions import TransientError
from apps.core.exceptions import ApplicationError
from apps.subscriptions.models import Feature, Plan, PlanPrice, PushStatus

LIMIT_WINDOWS = ("per_day", "per_month")


def plan_features_validate(*, features: Any) -> dict[str, Any]:
    """Check a plan's features against the Feature rows; raise ValidationError."""
    if not isinstance(features, dict):
        raise ValidationError(
            {"features": 'Enter an object of feature keys, e.g. {"seats": 3}.'}
        )
    kinds = dict(
        Feature.objects.filter(key__in=list(features)).values_list("key", "kind")
    )
    errors = []
    for key, value in features.items():
        kind = kinds.get(key)
        if kind is None:
            errors.append(f"Unknown feature {key!r}: define it under Features first.")
        elif kind == Feature.Kind.BOOLEAN and not isinstance(value, bool):
            errors.append(f"{key!r} is yes/no: use true or false.")
        elif kind == Feature.Kind.NUMBER and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            errors.append(f"{key!r} is a number: got {value!r}.")
        elif kind == Feature.Kind.TEXT and not isinstance(value, str):
            errors.append(f"{key!r} is text: got {value!r}.")
    if errors:
        raise ValidationError({"features": errors})
    return features


def plan_limits_validate(*, limits: Any) -> dict[str, Any]:
    """Check {metric: {"per_day": n|None, "per_month": n|None}}."""
    if not isinstance(limits, dict):
        raise ValidationError(
            {"limits": 'Enter an object, e.g. {"api_calls": {"per_day": 100}}.'}
        )
    errors = []
    for metric, windows in limits.items():
        if not isinstance(windows, dict) or not windows:
            errors.append(f"{metric!r}: give per_day and/or per_month.")
            continue
        for window, value in windows.items():
            if window not in LIMIT_WINDOWS:
                errors.append(f"{metric!r}: unknown window {window!r}.")
            elif value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                errors.append(f"{metric!r}.{window}: a whole number ≥ 0, or null.")
    if errors:
        raise ValidationError({"limits": errors})
    return limits


@dataclass(frozen=True, slots=True)
class PriceAmountChange:
    price: PlanPrice
    replaced: PlanPrice | None  # the archived used price, when grandfathered


@transaction.atomic
def plan_price_change_amount(
    *, price: PlanPrice, amount_minor: int
) -> PriceAmountChange:
    """Change a price's amount; a used price is replaced, never edited.

    Subscribers keep the old (now archived) price: grandfathering.
    """
    price = PlanPrice.objects.select_for_update().get(pk=price.pk)
    if price.amount_minor == amount_minor:
        return PriceAmountChange(price=price, replaced=None)
    if not price.is_used:
        # The Stripe copy (amounts are immutable there) is replaced by the push.
        price.amount_minor = amount_minor
        price.push_status = PushStatus.PENDING
        price.full_clean()
        price.save(update_fields=["amount_minor", "push_status", "updated_at"])
        plan_queue_push(plan_id=price.plan_id)
        return PriceAmountChange(price=price, replaced=None)
    new_price = PlanPrice(
        plan_id=price.plan_id,
        interval=price.interval,
        interval_count=price.interval_count,
        amount_minor=amount_minor,
        currency=price.currency,
        active=True,
        replaces=price,
    )
    new_price.full_clean()
    new_price.save()
    price.active = False
    price.push_status = PushStatus.PENDING
    price.save(update_fields=["active", "push_status", "updated_at"])
    plan_queue_push(plan_id=price.plan_id)
    return PriceAmountChange(price=new_price, replaced=price)


def plan_queue_push(*, plan_id: int) -> None:
    """Queue the Stripe push after commit; never call Stripe in a request."""
    from apps.subscriptions.tasks import push_plan

    transaction.on_commit(lambda: push_plan.delay(plan_id))


@transaction.atomic
def plan_mark_pending(*, plan_ids: list[int]) -> int:
    """Mark plans for another push (admin's "push again") and queue it."""
    count = Plan.objects.filter(pk__in=plan_ids).update(push_status=PushStatus.PENDING)
    for plan_id in plan_ids:
        plan_queue_push(plan_id=plan_id)
    return count


def _record(row: Plan | PlanPrice, *, error: str = "", **fields: Any) -> None:
    row.push_status = PushStatus.ERROR if error else PushStatus.SYNCED
    row.push_error = error
    if not error:
        row.pushed_at = timezone.now()
    for name, value in fields.items():
        setattr(row, name, value)
    # update(), not save(): the push must not overwrite staff edits made meanwhile.
    type(row).objects.filter(pk=row.pk).update(
        push_status=row.push_status,
        push_error=error,
        pushed_at=row.pushed_at,
        **fields,
    )


def plan_push(*, plan_id: int) -> Plan:
    """Push a plan's Product and each price to Stripe (idempotent, no locks held).

    Prices already in Stripe are only (de)activated: Stripe amounts never change,
    an amount change is a new price row.
    """
    plan = Plan.objects.get(pk=plan_id)
    product_id = plan.stripe_product_id or f"prod_shop_{plan.stripe_reference.hex}"
    try:
        gateway.product_upsert(
            product_id=product_id,
            name=plan.name,
            description=plan.description,
            active=plan.status == Plan.Status.ACTIVE,
            metadata={"plan_slug": plan.slug},
        )
    except ApplicationError as exc:
        _record(plan, error=exc.message)
        return plan
    except TransientError as exc:
        _record(plan, error=str(exc))
        raise
    _record(plan, stripe_product_id=product_id)
    failed = False
    for price in plan.prices.all():
        try:
            _price_push(price=price, product_id=product_id)
        except ApplicationError as exc:
            _record(price, error=exc.message)
            failed = True
        except TransientError as exc:
            _record(price, error=str(exc))
            raise
    if failed:
        _record(plan, error="Some prices failed to push; see each price.")
    return plan


def _price_push(*, price: PlanPrice, product_id: str) -> None:
    if price.stripe_price_id:
        remote = gateway.recurring_price_retrieve(price_id=price.stripe_price_id)
        if (remote.amount_minor, remote.currency, remote.interval) != (
            price.amount_minor,
            price.currency,
            price.interval,
        ) or remote.interval_count != price.interval_count:
            # An unused price was edited: retire the Stripe copy, push a new one
            # under a fresh reference (the old one names the old object).
            if remote.active:
                gateway.recurring_price_set_active(price_id=remote.id, active=False)
            price.stripe_reference = uuid.uuid4()
            PlanPrice.objects.filter(pk=price.pk).update(
                stripe_reference=price.stripe_reference
            )
            price.stripe_price_id = ""
        else:
            if remote.active != price.active:
                gateway.recurring_price_set_active(
                    price_id=price.stripe_price_id, active=price.active
                )
            _record(price)
            return
    remote = gateway.recurring_price_create(
        product_id=product_id,
        amount_minor=price.amount_minor,
        currency=price.currency,
        interval=price.interval,
        interval_count=price.interval_count,
        reference=f"plan_shop_{price.stripe_reference.hex}",
        metadata={"plan_price": str(price.pk)},
    )
    if not price.active:
        gateway.recurring_price_set_active(price_id=remote.id, active=False)
    _record(price, stripe_price_id=remote.id, stripe_object=remote.object)
