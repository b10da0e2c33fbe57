"""The card vault's tables. Fields and constraints only.

A :class:`VaultRecord` holds one tokenized card: the PAN (and cardholder name) encrypted
under the record's own data key, the data key wrapped by a KEK version, and the metadata the
rest of the platform may see (brand, last4, expiry, funding, fingerprint). Tokens and payment
methods point at records. The CVC is never stored here (it lives in Redis for minutes).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class VaultMode(models.TextChoices):
    """The mode of the API key a token or payment method was made with: test and live
    objects never see each other (a test key is told a live one does not exist)."""

    TEST = "test", "Test"
    LIVE = "live", "Live"


class KeyVersionState(models.TextChoices):
    ACTIVE = "active", "Active (new writes)"
    DECRYPT_ONLY = "decrypt_only", "Decrypt only (being rotated away)"
    RETIRED = "retired", "Retired (no row uses it; material destroyed)"


class VaultKeyVersion(models.Model):
    """Which KEK version the provider holds is for writes. Exactly one is active."""

    version = models.PositiveIntegerField(primary_key=True)
    state = models.CharField(max_length=16, choices=KeyVersionState.choices)
    created_at = models.DateTimeField()
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "tokenization_key_version"
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in KeyVersionState]),
                name="vault_key_version_state_valid",
            ),
            models.UniqueConstraint(
                fields=["state"],
                condition=Q(state="active"),
                name="vault_key_version_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"KEK v{self.version} ({self.state})"


class VaultRecord(models.Model):
    # Random, never exposed: bound into the associated data of both ciphertexts.
    record_id = models.UUIDField(unique=True)
    merchant_id = models.CharField(max_length=40)
    fingerprint = models.CharField(max_length=32)
    brand = models.CharField(max_length=16)
    funding = models.CharField(max_length=16)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    # Envelope: NULL together once the card is crypto-shredded.
    kek_version = models.ForeignKey(
        VaultKeyVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_column="kek_version",
    )
    wrapped_data_key = models.BinaryField(null=True, blank=True)
    nonce = models.BinaryField(null=True, blank=True)
    ciphertext = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField()
    shredded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "tokenization_vault_record"
        indexes = [
            models.Index(fields=["fingerprint"], name="vault_record_fingerprint"),
            models.Index(
                fields=["kek_version"],
                condition=Q(kek_version__isnull=False),
                name="vault_record_kek_version",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        shredded_at__isnull=True,
                        kek_version__isnull=False,
                        wrapped_data_key__isnull=False,
                        nonce__isnull=False,
                        ciphertext__isnull=False,
                    )
                    | Q(
                        shredded_at__isnull=False,
                        kek_version__isnull=True,
                        wrapped_data_key__isnull=True,
                        nonce__isnull=True,
                        ciphertext__isnull=True,
                    )
                ),
                name="vault_record_envelope_whole_or_shredded",
            ),
            models.CheckConstraint(
                condition=Q(last4__regex=r"^[0-9]{4}$"), name="vault_record_last4_digits"
            ),
            models.CheckConstraint(
                condition=Q(exp_month__gte=1, exp_month__lte=12),
                name="vault_record_exp_month_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.brand} •••• {self.last4}"


class CardToken(models.Model):
    """A single-use token (``tok_...``) for one vault record, valid for a short time."""

    public_id = models.CharField(max_length=40, unique=True)
    merchant_id = models.CharField(max_length=40)
    mode = models.CharField(max_length=8, choices=VaultMode.choices)
    record = models.ForeignKey(VaultRecord, on_delete=models.PROTECT, related_name="tokens")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_for = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        db_table = "tokenization_card_token"
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="card_token_expires_after_creation",
            ),
            models.CheckConstraint(
                condition=Q(used_at__isnull=True, used_for="")
                | Q(used_at__isnull=False, used_for__in=["payment_method", "authorization"]),
                name="card_token_use_recorded",
            ),
            models.CheckConstraint(
                condition=Q(mode__in=[m.value for m in VaultMode]), name="card_token_mode_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=Q(used_at__isnull=True),
                name="card_token_unused_expiry",
            )
        ]

    def __str__(self) -> str:
        return self.public_id


class PaymentMethod(models.Model):
    """A reusable card (``pm_...``) of one of the merchant's customers."""

    public_id = models.CharField(max_length=40, unique=True)
    merchant_id = models.CharField(max_length=40)
    mode = models.CharField(max_length=8, choices=VaultMode.choices)
    customer_ref = models.CharField(max_length=200)
    record = models.OneToOneField(
        VaultRecord, on_delete=models.PROTECT, related_name="payment_method"
    )
    created_at = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "tokenization_payment_method"
        indexes = [
            models.Index(
                fields=["merchant_id", "mode", "customer_ref"], name="payment_method_customer"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=[m.value for m in VaultMode]),
                name="payment_method_mode_valid",
            )
        ]

    def __str__(self) -> str:
        return self.public_id


class AllowedOrigin(models.Model):
    """A web origin (``https://shop.example``) from which a merchant's pages may call the token
    API directly. The platform's own checkout origin (``settings.CHECKOUT_ORIGIN``) is always
    allowed and is not stored here."""

    merchant_id = models.CharField(max_length=40)
    origin = models.CharField(max_length=255)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "tokenization_allowed_origin"
        constraints = [
            models.UniqueConstraint(
                fields=["merchant_id", "origin"], name="allowed_origin_once_per_merchant"
            ),
            models.CheckConstraint(
                condition=Q(origin__regex=r"^https?://[a-z0-9.\-\[\]:]+$"),
                name="allowed_origin_is_normalised",
            ),
        ]
        indexes = [models.Index(fields=["origin"], name="allowed_origin_origin")]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.origin}"
