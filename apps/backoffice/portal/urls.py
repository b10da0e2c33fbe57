"""The portal's business pages, mounted under /portal/ by paymenthub/urls.py."""

from django.urls import URLPattern, URLResolver, path

import apps.common.api.converters  # noqa: F401  (registers the public_id and url_token converters)
from apps.backoffice.portal import (
    balances,
    bank_connections,
    dashboard,
    developers,
    payments,
    payouts,
    reports,
    request_log,
    settings,
)

app_name = "portal"
urlpatterns: list[URLPattern | URLResolver] = [
    path("dashboard/", dashboard.dashboard_page, name="dashboard"),
    path("mode/", dashboard.switch_mode, name="switch-mode"),
    path("payments/", payments.payments_page, name="payments"),
    path("payments/<public_id:payment_id>/", payments.payment_detail_page, name="payment-detail"),
    path("payments/<public_id:payment_id>/refund/", payments.refund_page, name="payment-refund"),
    path(
        "payments/<public_id:payment_id>/capture/", payments.capture_payment, name="payment-capture"
    ),
    path("payments/<public_id:payment_id>/cancel/", payments.cancel_payment, name="payment-cancel"),
    path("balances/", balances.balances_page, name="balances"),
    path("payouts/", payouts.payouts_page, name="payouts"),
    path("payouts/new/", payouts.manual_payout_page, name="payout-create"),
    path("payouts/account/", payouts.payout_account_page, name="payout-account"),
    path(
        "payouts/account/change/",
        payouts.change_payout_account_page,
        name="payout-account-change",
    ),
    path(
        "payouts/account/verify/",
        payouts.verify_payout_account_page,
        name="payout-account-verify",
    ),
    path(
        "payouts/account/verified/",
        payouts.payout_account_verified_page,
        name="payout-account-verified",
    ),
    path("payouts/<public_id:payout_id>/", payouts.payout_detail_page, name="payout-detail"),
    path("bank-accounts/", bank_connections.bank_connections_page, name="bank-connections"),
    path("bank-accounts/connect/", bank_connections.connect_bank_page, name="bank-connect"),
    path("bank-accounts/return/", bank_connections.bank_return_page, name="bank-return"),
    path(
        "bank-accounts/<public_id:consent_id>/",
        bank_connections.bank_connection_page,
        name="bank-connection",
    ),
    path("reports/", reports.reports_page, name="reports"),
    path("reports/<public_id:export_id>/", reports.report_page, name="report"),
    path(
        "reports/<public_id:export_id>/download/", reports.report_download, name="report-download"
    ),
    path("developers/", developers.developers_page, name="developers"),
    path("developers/logs/", request_log.request_log_page, name="request-log"),
    path("developers/keys/new/", developers.create_key_page, name="api-key-create"),
    path("developers/keys/<public_id:key_id>/roll/", developers.roll_key_page, name="api-key-roll"),
    path(
        "developers/keys/<public_id:key_id>/revoke/", developers.revoke_key, name="api-key-revoke"
    ),
    path(
        "developers/webhooks/new/",
        developers.create_endpoint_page,
        name="webhook-endpoint-create",
    ),
    path(
        "developers/webhooks/<public_id:endpoint_id>/",
        developers.endpoint_page,
        name="webhook-endpoint",
    ),
    path(
        "developers/webhooks/<public_id:endpoint_id>/test/",
        developers.send_test_event,
        name="webhook-endpoint-test",
    ),
    path(
        "developers/webhooks/<public_id:endpoint_id>/roll/",
        developers.roll_endpoint_secret_page,
        name="webhook-endpoint-roll",
    ),
    path(
        "developers/webhooks/<public_id:endpoint_id>/deliveries/<public_id:delivery_id>/redeliver/",
        developers.redeliver,
        name="webhook-redeliver",
    ),
    path("settings/", settings.settings_page, name="settings"),
    path("settings/branding/", settings.branding_page, name="branding"),
    path("settings/profile/", settings.business_profile_page, name="business-profile"),
    path("settings/backup-codes/", settings.backup_codes_page, name="backup-codes"),
]
