from django.urls import path

import apps.common.api.converters  # noqa: F401  (registers the public_id converter)
from apps.openbanking.api.views import (
    BankCollectionView,
    BankPaymentCollectionView,
    BankPaymentDetailView,
    BankPaymentSyncView,
    ConsentAccountsView,
    ConsentBalancesView,
    ConsentCollectionView,
    ConsentDetailView,
    ConsentRevokeView,
    ConsentTransactionsView,
    authorization_callback,
)

P = "open-banking/"
urlpatterns = [
    path(P + "banks", BankCollectionView.as_view(), name="ob-banks"),
    path(P + "callback", authorization_callback, name="ob-callback"),
    path(P + "consents", ConsentCollectionView.as_view(), name="ob-consents"),
    path(P + "consents/<public_id:consent_id>", ConsentDetailView.as_view(), name="ob-consent"),
    path(
        P + "consents/<public_id:consent_id>/revoke",
        ConsentRevokeView.as_view(),
        name="ob-consent-revoke",
    ),
    path(
        P + "consents/<public_id:consent_id>/accounts",
        ConsentAccountsView.as_view(),
        name="ob-consent-accounts",
    ),
    path(
        P + "consents/<public_id:consent_id>/accounts/<str:account_id>/balances",
        ConsentBalancesView.as_view(),
        name="ob-consent-balances",
    ),
    path(
        P + "consents/<public_id:consent_id>/accounts/<str:account_id>/transactions",
        ConsentTransactionsView.as_view(),
        name="ob-consent-transactions",
    ),
    path(P + "payments", BankPaymentCollectionView.as_view(), name="ob-payments"),
    path(P + "payments/<public_id:payment_id>", BankPaymentDetailView.as_view(), name="ob-payment"),
    path(
        P + "payments/<public_id:payment_id>/sync",
        BankPaymentSyncView.as_view(),
        name="ob-payment-sync",
    ),
]
