"""The shopper-facing hosted checkout, mounted at /pay/ by paymenthub/urls.py."""

from django.urls import path

import apps.common.api.converters  # noqa: F401  (registers the url_token converter)
from apps.checkout.views import (
    abandon_bank,
    bank_return,
    challenge,
    checkout_page,
    pay,
    pay_by_bank,
)

urlpatterns = [
    path("<url_token:url_token>", checkout_page, name="checkout-page"),
    path("<url_token:url_token>/pay", pay, name="checkout-pay"),
    path("<url_token:url_token>/challenge", challenge, name="checkout-challenge"),
    path("<url_token:url_token>/bank", pay_by_bank, name="checkout-pay-by-bank"),
    path("<url_token:url_token>/bank/return", bank_return, name="checkout-bank-return"),
    path("<url_token:url_token>/bank/cancel", abandon_bank, name="checkout-bank-cancel"),
]
