from celery import shared_task

from apps.carts import services


@shared_task(name="carts.expire_carts", acks_late=True)
def expire_carts() -> dict:
    result = services.carts_expire()
    return {"abandoned": result.abandoned, "deleted": result.deleted}
