from django.urls import path

from apps.tokenization.api.views import TokenCollectionView, TokenDetailView

urlpatterns = [
    path("tokens", TokenCollectionView.as_view(), name="tokens"),
    path("tokens/<str:token_id>", TokenDetailView.as_view(), name="token-detail"),
]
