from django.urls import path

from apps.dunning import views

app_name = "dunning"

urlpatterns = [
    path("payments/<int:case_id>/", views.case_pay, name="case-pay"),
    path("payments/<int:case_id>/paid/", views.case_paid, name="case-paid"),
]
