from django.urls import path

from apps.analytics.api import views

urlpatterns = [
    path(
        "analytics/metrics/",
        views.AnalyticsMetricsApi.as_view(),
        name="analytics-metrics",
    ),
    path(
        "analytics/movements/",
        views.AnalyticsMovementsApi.as_view(),
        name="analytics-movements",
    ),
    path(
        "analytics/cohorts/",
        views.AnalyticsCohortsApi.as_view(),
        name="analytics-cohorts",
    ),
    path(
        "plans/<slug:slug>/analytics/",
        views.PlanAnalyticsApi.as_view(),
        name="plans-analytics",
    ),
]
