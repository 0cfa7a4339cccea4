from django.utils.functional import SimpleLazyObject

from apps.carts import selectors

SESSION_KEY = "cart_id"


class CartCountMiddleware:
    """Set ``request.cart_count`` for the header; one query, only if rendered."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.cart_count = SimpleLazyObject(lambda: self._count(request))
        return self.get_response(request)

    @staticmethod
    def _count(request) -> int:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return selectors.cart_item_count(user=user)
        session = getattr(request, "session", None)
        cart_id = session.get(SESSION_KEY) if session is not None else None
        return selectors.cart_item_count(cart_id=cart_id) if cart_id else 0
