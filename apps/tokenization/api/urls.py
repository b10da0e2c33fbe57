from django.urls import path

import apps.common.api.converters  # noqa: F401  (registers the public_id converter)
from apps.tokenization.api.views import (
    PaymentMethodCollectionView,
    PaymentMethodDetachView,
    PaymentMethodDetailView,
    TokenCollectionView,
    TokenDetailView,
)

urlpatterns = [
    path("tokens", TokenCollectionView.as_view(), name="tokens"),
    path("tokens/<public_id:token_id>", TokenDetailView.as_view(), name="token-detail"),
    path("payment_methods", PaymentMethodCollectionView.as_view(), name="payment-methods"),
    path(
        "payment_methods/<public_id:payment_method_id>",
        PaymentMethodDetailView.as_view(),
        name="payment-method-detail",
    ),
    path(
        "payment_methods/<public_id:payment_method_id>/detach",
        PaymentMethodDetachView.as_view(),
        name="payment-method-detach",
    ),
]
