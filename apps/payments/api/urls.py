"""The payments API's routes. Object ids are matched as ``<public_id:...>``
(apps.common.api.converters): a malformed id (a NUL byte ...) is the API's 404, never a query."""

from django.urls import path

import apps.common.api.converters  # noqa: F401  (registers the public_id converter)
from apps.payments.api.customers import (
    CustomerCollectionView,
    CustomerDetailView,
    CustomerPaymentMethodsView,
)
from apps.payments.api.disputes import DisputeCloseView, DisputeCollectionView, DisputeDetailView
from apps.payments.api.events import EventCollectionView, EventDetailView
from apps.payments.api.payment_methods import (
    PaymentMethodCollectionView,
    PaymentMethodDetachView,
    PaymentMethodDetailView,
)
from apps.payments.api.views import (
    PaymentCancelView,
    PaymentCaptureView,
    PaymentCollectionView,
    PaymentConfirmView,
    PaymentDetailView,
    RefundCollectionView,
    RefundDetailView,
)

urlpatterns = [
    path("payments", PaymentCollectionView.as_view(), name="payments"),
    path("payments/<public_id:payment_id>", PaymentDetailView.as_view(), name="payment-detail"),
    path(
        "payments/<public_id:payment_id>/confirm",
        PaymentConfirmView.as_view(),
        name="payment-confirm",
    ),
    path(
        "payments/<public_id:payment_id>/capture",
        PaymentCaptureView.as_view(),
        name="payment-capture",
    ),
    path(
        "payments/<public_id:payment_id>/cancel", PaymentCancelView.as_view(), name="payment-cancel"
    ),
    path("refunds", RefundCollectionView.as_view(), name="refunds"),
    path("refunds/<public_id:refund_id>", RefundDetailView.as_view(), name="refund-detail"),
    path("customers", CustomerCollectionView.as_view(), name="customers"),
    path("customers/<public_id:customer_id>", CustomerDetailView.as_view(), name="customer-detail"),
    path(
        "customers/<public_id:customer_id>/payment_methods",
        CustomerPaymentMethodsView.as_view(),
        name="customer-payment-methods",
    ),
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
    path("disputes", DisputeCollectionView.as_view(), name="disputes"),
    path("disputes/<public_id:dispute_id>", DisputeDetailView.as_view(), name="dispute-detail"),
    path("disputes/<public_id:dispute_id>/close", DisputeCloseView.as_view(), name="dispute-close"),
    path("events", EventCollectionView.as_view(), name="events"),
    path("events/<public_id:event_id>", EventDetailView.as_view(), name="event-detail"),
]
