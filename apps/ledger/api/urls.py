from django.urls import path

from apps.ledger.api.payout_views import PayoutCollectionView, PayoutDetailView
from apps.ledger.api.views import BalanceTransactionListView, BalanceView

urlpatterns = [
    path("balance", BalanceView.as_view(), name="balance"),
    path(
        "balance_transactions",
        BalanceTransactionListView.as_view(),
        name="balance-transactions",
    ),
    path("payouts", PayoutCollectionView.as_view(), name="payouts"),
    path("payouts/<str:payout_id>", PayoutDetailView.as_view(), name="payout-detail"),
]
