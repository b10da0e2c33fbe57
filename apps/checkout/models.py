"""Checkout sessions: what a shopper is asked to pay on the hosted page."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class SessionStatus(models.TextChoices):
    OPEN = "open", "Open"
    COMPLETE = "complete", "Complete"
    EXPIRED = "expired", "Expired"


class CheckoutSession(models.Model):
    """One hosted payment page. ``url_token`` (not the public id, which the merchant's success
    URL receives) is the page's address. A payment attempt is *claimed* by a conditional
    UPDATE on ``attempt_claimed_at`` (NULL → now), so two tabs can never pay it twice; a check
    constraint says a complete session names its payment."""

    public_id = models.CharField(max_length=40, unique=True)
    url_token = models.CharField(max_length=64, unique=True)
    merchant_ref = models.CharField(max_length=40)
    mode = models.CharField(max_length=8)
    status = models.CharField(max_length=16, choices=SessionStatus.choices)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    line_items = models.JSONField(default=list)
    success_url = models.URLField(max_length=2000)
    cancel_url = models.URLField(max_length=2000)
    customer_email = models.CharField(max_length=254, blank=True, default="")
    payment_method_types = models.JSONField(default=list)
    metadata = models.JSONField(default=dict)
    locale = models.CharField(max_length=8, blank=True, default="")
    # the payment being attempted (or waiting for its challenge), and the paid one once complete
    payment_ref = models.CharField(max_length=40, blank=True, default="")
    attempt_claimed_at = models.DateTimeField(null=True, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "checkout_session"
        indexes = [
            models.Index(fields=["merchant_ref", "mode", "-id"], name="cs_merchant_idx"),
            models.Index(
                fields=["expires_at"], name="cs_open_expiry_idx", condition=Q(status="open")
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="cs_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["open", "complete", "expired"]), name="cs_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="complete") | ~Q(payment_ref=""),
                name="cs_complete_names_payment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.amount_minor} {self.currency} {self.status}"


class CheckoutPublishableKey(models.Model):
    """The publishable key the hosted page gives the browser to call ``POST /v1/tokens``, one
    per merchant and mode, created through the merchants facade on first use. Publishable keys
    are public by design (they sit in every page that takes cards), which is why this one may be
    kept in clear: it can only make single-use card tokens for its merchant."""

    merchant_ref = models.CharField(max_length=40)
    mode = models.CharField(max_length=8)
    key_id = models.CharField(max_length=40)
    publishable_key = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "checkout_publishable_key"
        constraints = [
            models.UniqueConstraint(
                fields=["merchant_ref", "mode"], name="checkout_one_key_per_merchant_mode"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_ref} {self.mode} {self.key_id}"
