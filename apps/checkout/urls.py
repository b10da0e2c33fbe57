"""The shopper-facing hosted checkout, mounted at /pay/ by paymenthub/urls.py."""

from django.urls import path

from apps.checkout.views import (
    abandon_bank,
    bank_return,
    challenge,
    checkout_page,
    pay,
    pay_by_bank,
)

urlpatterns = [
    path("<str:url_token>", checkout_page, name="checkout-page"),
    path("<str:url_token>/pay", pay, name="checkout-pay"),
    path("<str:url_token>/challenge", challenge, name="checkout-challenge"),
    path("<str:url_token>/bank", pay_by_bank, name="checkout-pay-by-bank"),
    path("<str:url_token>/bank/return", bank_return, name="checkout-bank-return"),
    path("<str:url_token>/bank/cancel", abandon_bank, name="checkout-bank-cancel"),
]
