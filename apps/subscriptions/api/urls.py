from django.urls import path

from apps.subscriptions.api import views

urlpatterns = [
    path("plans/", views.PlanListApi.as_view(), name="plans-list"),
    path("plans/compare/", views.PlanCompareApi.as_view(), name="plans-compare"),
    path("plans/<slug:slug>/", views.PlanDetailApi.as_view(), name="plans-detail"),
]
