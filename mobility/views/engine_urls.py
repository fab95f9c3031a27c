"""Routes of this area; included by mobility/urls.py."""

urlpatterns: list = []
