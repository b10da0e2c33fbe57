from django.urls import path

from apps.checkout.api.views import (
    CheckoutSessionCollectionView,
    CheckoutSessionDetailView,
    CheckoutSessionExpireView,
)

urlpatterns = [
    path("checkout/sessions", CheckoutSessionCollectionView.as_view(), name="checkout-sessions"),
    path(
        "checkout/sessions/<str:session_id>",
        CheckoutSessionDetailView.as_view(),
        name="checkout-session",
    ),
    path(
        "checkout/sessions/<str:session_id>/expire",
        CheckoutSessionExpireView.as_view(),
        name="checkout-session-expire",
    ),
]
