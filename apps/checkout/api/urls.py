from django.urls import path

import apps.common.api.converters  # noqa: F401  (registers the public_id converter)
from apps.checkout.api.views import (
    CheckoutSessionCollectionView,
    CheckoutSessionDetailView,
    CheckoutSessionExpireView,
)

urlpatterns = [
    path("checkout/sessions", CheckoutSessionCollectionView.as_view(), name="checkout-sessions"),
    path(
        "checkout/sessions/<public_id:session_id>",
        CheckoutSessionDetailView.as_view(),
        name="checkout-session",
    ),
    path(
        "checkout/sessions/<public_id:session_id>/expire",
        CheckoutSessionExpireView.as_view(),
        name="checkout-session-expire",
    ),
]
