"""Portal authentication URLs (login, second factor, enrolment, step-up, logout)."""

from django.urls import URLPattern, URLResolver

app_name = "identity"
urlpatterns: list[URLPattern | URLResolver] = []
