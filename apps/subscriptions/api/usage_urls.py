from django.urls import path

from apps.subscriptions.api import usage

# Included first under /api/v1/ (apps.core.api.urls): see there.
urlpatterns = [
    path("usage/", usage.UsageCollectionApi.as_view(), name="usage-list"),
    path("usage/batch/", usage.UsageBatchApi.as_view(), name="usage-batch"),
    path("usage/history/", usage.UsageHistoryApi.as_view(), name="usage-history"),
]
