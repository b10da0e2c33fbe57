"""The shopper-facing hosted checkout, mounted at /pay/ by paymenthub/urls.py."""

from django.urls import path

from apps.checkout.views import challenge, checkout_page, pay

urlpatterns = [
    path("<str:url_token>", checkout_page, name="checkout-page"),
    path("<str:url_token>/pay", pay, name="checkout-pay"),
    path("<str:url_token>/challenge", challenge, name="checkout-challenge"),
]
