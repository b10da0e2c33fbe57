from django.urls import path

from apps.ledger.api.views import BalanceTransactionListView, BalanceView

urlpatterns = [
    path("balance", BalanceView.as_view(), name="balance"),
    path(
        "balance_transactions",
        BalanceTransactionListView.as_view(),
        name="balance-transactions",
    ),
]
