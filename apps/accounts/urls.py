from django.urls import path

from apps.accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.profile, name="profile"),
    path("addresses/", views.address_list, name="address-list"),
    path("addresses/new/", views.address_add, name="address-add"),
    path("addresses/<int:address_id>/edit/", views.address_edit, name="address-edit"),
    path(
        "addresses/<int:address_id>/delete/",
        views.address_remove,
        name="address-delete",
    ),
]
