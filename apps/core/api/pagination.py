from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param) or 1
        try:
            number = int(raw)
        except (TypeError, ValueError):
            raise ValidationError({"page": ["Must be a whole number."]}) from None
        if number < 1:
            raise ValidationError({"page": ["Must be 1 or more."]})
        if number > 1_000_000:
            raise NotFound("That page does not exist.")
        return number
