"""Merchants and their team. Fields and constraints only."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from apps.common.api.versioning import current_api_version


class MerchantStatus(models.TextChoices):
    APPLIED = "applied", "Applied"
    IN_REVIEW = "in_review", "In review"
    ACTIVE = "active", "Active"
    REJECTED = "rejected", "Rejected"
    SUSPENDED = "suspended", "Suspended"


class Merchant(models.Model):
    public_id = models.CharField(max_length=40, unique=True)
    legal_name = models.CharField(max_length=200)
    trading_name = models.CharField(max_length=200)
    country = models.CharField(max_length=2)
    settlement_currency = models.CharField(max_length=3)
    support_email = models.EmailField()
    status = models.CharField(
        max_length=16, choices=MerchantStatus.choices, default=MerchantStatus.APPLIED
    )
    created_at = models.DateTimeField()
    # Application (KYB) data; blank for merchants created before onboarding existed.
    registration_number = models.CharField(max_length=64, blank=True, default="")
    vat_id = models.CharField(max_length=32, blank=True, default="")
    mcc = models.CharField("MCC", max_length=4, blank=True, default="")
    website = models.URLField(max_length=300, blank=True, default="")
    expected_monthly_volume_minor = models.BigIntegerField(default=0)
    status_reason = models.TextField(blank=True, default="")
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # The dated API version (PaymentHub-Version) requests get when they send no version header.
    api_version = models.CharField(max_length=10, default=current_api_version)

    class Meta:
        db_table = "merchants_merchant"
        constraints = [
            models.CheckConstraint(
                condition=Q(mcc="") | Q(mcc__regex=r"^[0-9]{4}$"), name="merchant_mcc_format"
            ),
            models.CheckConstraint(
                condition=Q(expected_monthly_volume_minor__gte=0),
                name="merchant_expected_volume_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in MerchantStatus]),
                name="merchant_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(country__regex=r"^[A-Z]{2}$"), name="merchant_country_iso"
            ),
            models.CheckConstraint(
                condition=Q(settlement_currency__regex=r"^[A-Z]{3}$"),
                name="merchant_settlement_currency_iso",
            ),
            models.CheckConstraint(
                condition=Q(api_version__regex=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
                name="merchant_api_version_format",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trading_name} ({self.public_id})"


class MemberRole(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Administrator"
    DEVELOPER = "developer", "Developer"
    ANALYST = "analyst", "Analyst"
    SUPPORT = "support", "Support"


class MerchantMembership(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="merchant_memberships"
    )
    role = models.CharField(max_length=16, choices=MemberRole.choices)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "merchants_membership"
        constraints = [
            models.UniqueConstraint(fields=["merchant", "user"], name="membership_unique_user"),
            models.CheckConstraint(
                condition=Q(role__in=[r.value for r in MemberRole]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} is {self.role} of {self.merchant_id}"


class ApiKeyMode(models.TextChoices):
    TEST = "test", "Test"
    LIVE = "live", "Live"


class ApiKeyType(models.TextChoices):
    SECRET = "secret", "Secret"
    PUBLISHABLE = "publishable", "Publishable"


class ApiKey(models.Model):
    """An API key. Only a SHA-256 hash of the key is stored, with a visible prefix; the key
    itself is shown once, when created."""

    public_id = models.CharField(max_length=40, unique=True)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="api_keys")
    mode = models.CharField(max_length=8, choices=ApiKeyMode.choices)
    key_type = models.CharField(max_length=16, choices=ApiKeyType.choices)
    prefix = models.CharField(max_length=24)
    secret_hash = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    rolled_from = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="rolled_to"
    )

    class Meta:
        db_table = "merchants_api_key"
        indexes = [
            models.Index(fields=["merchant", "mode", "key_type"], name="api_key_merchant_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=["test", "live"]), name="api_key_mode_valid"
            ),
            models.CheckConstraint(
                condition=Q(key_type__in=["secret", "publishable"]), name="api_key_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.public_id})"


class MerchantStatusChange(models.Model):
    """One row per lifecycle transition: the history behind ``Merchant.status``."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="status_changes")
    from_status = models.CharField(max_length=16, choices=MerchantStatus.choices)
    to_status = models.CharField(max_length=16, choices=MerchantStatus.choices)
    reason = models.TextField(blank=True, default="")
    actor_type = models.CharField(max_length=16)
    actor_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        db_table = "merchants_status_change"
        indexes = [
            models.Index(fields=["merchant", "created_at"], name="status_change_merchant_idx")
        ]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class BeneficialOwner(models.Model):
    public_id = models.CharField(max_length=40, unique=True)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="beneficial_owners"
    )
    full_name = models.CharField(max_length=200)
    date_of_birth = models.DateField()
    nationality = models.CharField(max_length=2)
    ownership_percent = models.DecimalField(max_digits=5, decimal_places=2)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "merchants_beneficial_owner"
        constraints = [
            models.CheckConstraint(
                condition=Q(ownership_percent__gt=0) & Q(ownership_percent__lte=100),
                name="beneficial_owner_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(nationality__regex=r"^[A-Z]{2}$"),
                name="beneficial_owner_nationality_iso",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.ownership_percent} %)"


class KybDocumentType(models.TextChoices):
    CERTIFICATE_OF_INCORPORATION = "certificate_of_incorporation", "Certificate of incorporation"
    PROOF_OF_ADDRESS = "proof_of_address", "Proof of address"
    OWNER_IDENTITY = "owner_identity", "Identity document of an owner"
    BANK_STATEMENT = "bank_statement", "Bank statement"
    OTHER = "other", "Other"


def kyb_document_upload_to(instance: KybDocument, filename: str) -> str:
    """``kyb/<merchant>/<document>.<ext>`` under MEDIA_ROOT: never the uploader's file name."""
    extension = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}.get(
        instance.content_type, "bin"
    )
    return f"kyb/{instance.merchant.public_id}/{instance.public_id}.{extension}"


class KybDocument(models.Model):
    """An uploaded KYB document. The file lives under MEDIA_ROOT, which no URL serves; staff
    read it only through the audited admin download view."""

    public_id = models.CharField(max_length=40, unique=True)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="documents")
    document_type = models.CharField(max_length=40, choices=KybDocumentType.choices)
    file = models.FileField(upload_to=kyb_document_upload_to, max_length=200)
    original_name = models.CharField(max_length=255, blank=True, default="")
    content_type = models.CharField(max_length=64)
    size_bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField()

    class Meta:
        db_table = "merchants_kyb_document"
        constraints = [
            models.CheckConstraint(
                condition=Q(content_type__in=["application/pdf", "image/png", "image/jpeg"]),
                name="kyb_document_content_type_allowed",
            ),
            models.CheckConstraint(
                condition=Q(document_type__in=[t.value for t in KybDocumentType]),
                name="kyb_document_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_document_type_display()} ({self.public_id})"


class Invitation(models.Model):
    """An invitation to join a merchant's team. Only the SHA-256 of the emailed token is
    stored; the token works once, until ``expires_at``."""

    public_id = models.CharField(max_length=40, unique=True)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=MemberRole.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "merchants_invitation"
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=[r.value for r in MemberRole]), name="invitation_role_valid"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="invitation_expires_after"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} as {self.role} ({self.public_id})"


class WebhookEndpoint(models.Model):
    """Where a merchant wants events delivered. The signing secret is stored encrypted
    (AES-GCM, key derived from SECRET_KEY; see ``apps.merchants.webhook_endpoints``) because
    deliveries must sign with it; during a rotation the previous secret stays valid until
    ``previous_secret_expires_at``."""

    public_id = models.CharField(max_length=40, unique=True)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="webhook_endpoints"
    )
    mode = models.CharField(max_length=8, choices=ApiKeyMode.choices)
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True, default="")
    event_types = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    secret_ciphertext = models.TextField()
    previous_secret_ciphertext = models.TextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "merchants_webhook_endpoint"
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=["test", "live"]), name="webhook_endpoint_mode_valid"
            ),
            models.CheckConstraint(
                condition=Q(mode="test") | Q(url__startswith="https://"),
                name="webhook_endpoint_live_https",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.url} ({self.public_id})"


class PaymentMethodType(models.TextChoices):
    CARD = "card", "Card"
    OPEN_BANKING = "open_banking", "Open banking"


class PriceListEntry(models.Model):
    """Fee for one currency and payment method: ``percentage`` % of the amount (rounded
    half-even once) plus ``fixed_fee_minor``. A row without a merchant belongs to the
    default price list, used when the merchant has no price of its own."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, null=True, blank=True, related_name="prices"
    )
    currency = models.CharField(max_length=3)
    payment_method = models.CharField(max_length=16, choices=PaymentMethodType.choices)
    percentage = models.DecimalField(max_digits=7, decimal_places=4)
    fixed_fee_minor = models.BigIntegerField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "merchants_price_list_entry"
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "currency", "payment_method"],
                condition=Q(merchant__isnull=False),
                name="price_unique_per_merchant",
            ),
            models.UniqueConstraint(
                fields=["currency", "payment_method"],
                condition=Q(merchant__isnull=True),
                name="price_unique_default",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="price_currency_iso"
            ),
            models.CheckConstraint(
                condition=Q(percentage__gte=0) & Q(percentage__lte=100),
                name="price_percentage_range",
            ),
            models.CheckConstraint(
                condition=Q(fixed_fee_minor__gte=0), name="price_fixed_fee_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(payment_method__in=[m.value for m in PaymentMethodType]),
                name="price_payment_method_valid",
            ),
        ]

    def __str__(self) -> str:
        owner = self.merchant_id or "default"
        return f"{owner} {self.payment_method} {self.currency}"


class PayoutInterval(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MANUAL = "manual", "Manual"


class PayoutSchedule(models.Model):
    merchant = models.OneToOneField(
        Merchant, on_delete=models.PROTECT, related_name="payout_schedule"
    )
    interval = models.CharField(
        max_length=8, choices=PayoutInterval.choices, default=PayoutInterval.DAILY
    )
    # 0 = Monday ... 6 = Sunday; used by weekly schedules only.
    weekly_anchor = models.PositiveSmallIntegerField(default=0)
    minimum_amount_minor = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    delay_days = models.PositiveSmallIntegerField(default=2)
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "merchants_payout_schedule"
        constraints = [
            models.CheckConstraint(
                condition=Q(interval__in=[i.value for i in PayoutInterval]),
                name="payout_schedule_interval_valid",
            ),
            models.CheckConstraint(
                condition=Q(weekly_anchor__lte=6), name="payout_schedule_anchor_weekday"
            ),
            models.CheckConstraint(
                condition=Q(minimum_amount_minor__gte=0),
                name="payout_schedule_minimum_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(delay_days__lte=30), name="payout_schedule_delay_range"
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="payout_schedule_currency_iso"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.interval} payouts for {self.merchant_id}"


class CheckoutBranding(models.Model):
    merchant = models.OneToOneField(
        Merchant, on_delete=models.PROTECT, related_name="checkout_branding"
    )
    display_name = models.CharField(max_length=100)
    logo_url = models.URLField(max_length=500, blank=True, default="")
    accent_color = models.CharField(max_length=7, default="#3D4EAC")
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "merchants_checkout_branding"
        constraints = [
            models.CheckConstraint(
                condition=Q(accent_color__regex=r"^#[0-9A-F]{6}$"),
                name="checkout_branding_accent_hex",
            ),
            models.CheckConstraint(
                condition=Q(logo_url="") | Q(logo_url__startswith="https://"),
                name="checkout_branding_logo_https",
            ),
        ]

    def __str__(self) -> str:
        return f"Branding of {self.merchant_id}"


class MerchantApplication(Merchant):
    """The onboarding review queue in Django admin: merchants that applied or are in review."""

    class Meta:
        proxy = True
        verbose_name = "merchant application"
        verbose_name_plural = "merchant applications (review queue)"


class PayoutAccountScheme(models.TextChoices):
    SORT_CODE = "sort_code", "UK sort code and account number"
    IBAN = "iban", "IBAN"


class PayoutBankAccount(models.Model):
    """The bank account a merchant's payouts go to, one per merchant and mode.

    The account number (or IBAN) is sealed with AES-256-GCM (``payout_accounts.py``); reads
    show ``account_last4`` only. Changing the account gives it a new ``public_id`` and clears
    ``verified_at``: a verification started for the old details cannot verify the new ones.
    Payouts go only to an account with ``verified_at`` set (verified through an open-banking
    account-access consent that shows the merchant holds it)."""

    public_id = models.CharField(max_length=40, unique=True)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="payout_bank_accounts"
    )
    mode = models.CharField(max_length=8, choices=ApiKeyMode.choices)
    scheme = models.CharField(max_length=16, choices=PayoutAccountScheme.choices)
    holder_name = models.CharField(max_length=140)
    sort_code = models.CharField(max_length=6, blank=True, default="")
    account_number_sealed = models.TextField()
    account_last4 = models.CharField(max_length=4)
    country = models.CharField(max_length=2, blank=True, default="")
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_consent_ref = models.CharField(max_length=60, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "merchants_payout_bank_account"
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "mode"], name="payout_bank_account_one_per_mode"
            ),
            models.CheckConstraint(
                condition=Q(mode__in=[m.value for m in ApiKeyMode]),
                name="payout_bank_account_mode_valid",
            ),
            models.CheckConstraint(
                condition=Q(scheme__in=[s.value for s in PayoutAccountScheme]),
                name="payout_bank_account_scheme_valid",
            ),
            models.CheckConstraint(
                condition=Q(account_last4__regex=r"^[0-9A-Z]{4}$"),
                name="payout_bank_account_last4_format",
            ),
            models.CheckConstraint(
                condition=(Q(scheme="sort_code") & Q(sort_code__regex=r"^[0-9]{6}$"))
                | (Q(scheme="iban") & Q(sort_code="")),
                name="payout_bank_account_sort_code_format",
            ),
            models.CheckConstraint(
                condition=Q(verified_at__isnull=True) | ~Q(verified_consent_ref=""),
                name="payout_bank_account_verified_by_consent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.holder_name} ****{self.account_last4} ({self.mode})"


# The second-factor devices (proxies of django-otp's models, secrets sealed and digested) are
# models of this app: imported here so Django registers them with the app.
from apps.merchants.identity.devices import (  # noqa: E402, F401
    AuthenticatorDevice,
    BackupCodesDevice,
)
