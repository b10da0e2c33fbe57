"""Portal onboarding URLs (sign-up, the portal's home page)."""

from django.urls import URLPattern, URLResolver, path

from apps.merchants.onboarding import views

app_name = "onboarding"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home_view, name="home"),
    path("signup/", views.signup_view, name="signup"),
]
