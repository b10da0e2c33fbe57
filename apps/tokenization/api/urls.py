from django.urls import path

import apps.common.api.converters  # noqa: F401  (registers the public_id converter)
from apps.tokenization.api.views import TokenCollectionView, TokenDetailView

# /v1/payment_methods (saving a token as a customer's card) is served by apps.payments.api.
urlpatterns = [
    path("tokens", TokenCollectionView.as_view(), name="tokens"),
    path("tokens/<public_id:token_id>", TokenDetailView.as_view(), name="token-detail"),
]
