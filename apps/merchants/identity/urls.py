"""Portal authentication URLs (login, second factor, enrolment, step-up, logout)."""

from django.urls import URLPattern, URLResolver, path

from apps.merchants.identity import views

app_name = "identity"
urlpatterns: list[URLPattern | URLResolver] = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("2fa/", views.two_factor_view, name="two_factor"),
    path("2fa/setup/", views.two_factor_setup_view, name="two_factor_setup"),
    path("reauth/", views.reauth_view, name="reauth"),
]
