app_name = "carts"
urlpatterns: list = []
