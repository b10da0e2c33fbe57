from django.urls import path

import apps.common.api.converters  # noqa: F401  (registers the public_id converter)
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
    path("payouts/<public_id:payout_id>", PayoutDetailView.as_view(), name="payout-detail"),
]
