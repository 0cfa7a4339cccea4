import datetime

import pytest
from django.utils import timezone

from apps.carts.models import Cart
from tests.carts.factories import CartFactory


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_expire_carts_task_on_real_worker_deletes_old_anonymous_cart(celery_worker):
    from apps.carts.tasks import expire_carts

    old, fresh = CartFactory(), CartFactory()
    Cart.objects.filter(pk=old.pk).update(
        updated_at=timezone.now() - datetime.timedelta(days=60)
    )
    assert expire_carts.delay().get(timeout=30) == {"abandoned": 0, "deleted": 1}
    assert list(Cart.objects.values_list("pk", flat=True)) == [fresh.pk]


def test_beat_schedule_runs_expire_carts(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["carts.expire_carts"]
    assert entry["task"] == "carts.expire_carts"
