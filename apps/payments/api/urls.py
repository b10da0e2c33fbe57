from django.urls import path

from apps.payments.api.customers import (
    CustomerCollectionView,
    CustomerDetailView,
    CustomerPaymentMethodsView,
)
from apps.payments.api.disputes import DisputeCloseView, DisputeCollectionView, DisputeDetailView
from apps.payments.api.events import EventCollectionView, EventDetailView
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
    path("payments/<str:payment_id>", PaymentDetailView.as_view(), name="payment-detail"),
    path("payments/<str:payment_id>/confirm", PaymentConfirmView.as_view(), name="payment-confirm"),
    path("payments/<str:payment_id>/capture", PaymentCaptureView.as_view(), name="payment-capture"),
    path("payments/<str:payment_id>/cancel", PaymentCancelView.as_view(), name="payment-cancel"),
    path("refunds", RefundCollectionView.as_view(), name="refunds"),
    path("refunds/<str:refund_id>", RefundDetailView.as_view(), name="refund-detail"),
    path("customers", CustomerCollectionView.as_view(), name="customers"),
    path("customers/<str:customer_id>", CustomerDetailView.as_view(), name="customer-detail"),
    path(
        "customers/<str:customer_id>/payment_methods",
        CustomerPaymentMethodsView.as_view(),
        name="customer-payment-methods",
    ),
    path("disputes", DisputeCollectionView.as_view(), name="disputes"),
    path("disputes/<str:dispute_id>", DisputeDetailView.as_view(), name="dispute-detail"),
    path("disputes/<str:dispute_id>/close", DisputeCloseView.as_view(), name="dispute-close"),
    path("events", EventCollectionView.as_view(), name="events"),
    path("events/<str:event_id>", EventDetailView.as_view(), name="event-detail"),
]
