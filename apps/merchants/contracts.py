"""Frozen data the merchants app hands to other apps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class MerchantSummary:
    public_id: str
    legal_name: str
    trading_name: str
    country: str
    settlement_currency: str
    status: str
    support_email: str = ""
    created_at: datetime | None = None
    # the PaymentHub-Version its API requests and webhooks are rendered at ("" = current)
    api_version: str = ""

    @property
    def is_active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class ApiKeyPrincipal:
    """Who is calling the API: set as ``request.user`` and ``request.auth`` by the key
    authentication classes."""

    key_id: str
    merchant_id: str
    mode: str
    key_type: str
    # The merchant's pinned PaymentHub-Version (apps.common.api.versioning reads it).
    api_version: str = ""

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def livemode(self) -> bool:
        return self.mode == "live"


@dataclass(frozen=True, slots=True)
class ApiKeySummary:
    key_id: str
    merchant_id: str
    mode: str
    key_type: str
    prefix: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    """A new key: ``secret`` is the only time the full key is ever available."""

    summary: ApiKeySummary
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class BeneficialOwnerInput:
    """A beneficial owner as given on an application."""

    full_name: str
    date_of_birth: date
    nationality: str
    ownership_percent: Decimal


@dataclass(frozen=True, slots=True)
class SanctionsScreeningSubject:
    """The names of a merchant that a sanctions screener checks."""

    merchant_id: str
    legal_name: str
    trading_name: str
    beneficial_owner_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SanctionsPotentialMatch:
    """One screened name that scored at or above the threshold against a listed party."""

    screened_role: str  # "legal_name", "trading_name" or "beneficial_owner"
    screened_name: str
    list_entry_id: str  # the list's own id (OFAC ent_num)
    listed_name: str  # the listed party's primary name
    matched_name: str  # the listed name or alias that matched
    score: float  # 0-100
    list_version: str = ""

    def as_dict(self) -> dict[str, str | float]:
        return {
            "screened_role": self.screened_role,
            "screened_name": self.screened_name,
            "list_entry_id": self.list_entry_id,
            "listed_name": self.listed_name,
            "matched_name": self.matched_name,
            "score": self.score,
            "list_version": self.list_version,
        }


@dataclass(frozen=True, slots=True)
class SanctionsScreeningResult:
    """What sanctions screening said about a merchant. ``outcome`` is ``"not_screened"``
    while no screener is registered (or it has no list loaded); else ``"clear"`` or ``"hit"``
    (a potential match, listed in ``matches``, that blocks approval)."""

    merchant_id: str
    outcome: str
    provider: str = ""
    details: dict[str, str] = field(default_factory=dict)
    matches: tuple[SanctionsPotentialMatch, ...] = ()

    @property
    def is_hit(self) -> bool:
        return self.outcome == "hit"


# A screening provider (the risk app registers one through the merchants facade): given a
# merchant's names, it returns "clear", "hit" (with the matches) or "not_screened".
SanctionsScreener = Callable[[SanctionsScreeningSubject], SanctionsScreeningResult]


@dataclass(frozen=True, slots=True)
class KybDocumentSummary:
    document_id: str
    merchant_id: str
    document_type: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime


@dataclass(frozen=True, slots=True)
class MemberSummary:
    user_id: int
    merchant_id: str
    email: str
    role: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class InvitationSummary:
    invitation_id: str
    merchant_id: str
    email: str
    role: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CreatedInvitation:
    """A new invitation: ``token`` exists only here and in the email; the database keeps
    its hash."""

    summary: InvitationSummary
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class WebhookEndpointSummary:
    endpoint_id: str
    merchant_id: str
    mode: str
    url: str
    description: str
    event_types: tuple[str, ...]
    enabled: bool
    created_at: datetime
    updated_at: datetime
    previous_secret_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WebhookEndpointWithSecret:
    """Returned on creation and rotation: the only time the signing secret is shown."""

    summary: WebhookEndpointSummary
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class PriceSummary:
    merchant_id: str | None  # None: the default price list
    currency: str
    payment_method: str
    percentage: Decimal
    fixed_fee_minor: int


@dataclass(frozen=True, slots=True)
class PayoutScheduleSummary:
    merchant_id: str
    interval: str
    weekly_anchor: int
    minimum_amount_minor: int
    currency: str
    delay_days: int


@dataclass(frozen=True, slots=True)
class CheckoutBrandingSummary:
    merchant_id: str
    display_name: str
    logo_url: str
    accent_color: str


@dataclass(frozen=True, slots=True)
class PayoutBankAccountSummary:
    """A merchant's payout bank account as every reader sees it: the number masked."""

    account_id: str  # ba_...; a new id whenever the details change
    merchant_id: str
    mode: str
    scheme: str  # sort_code | iban
    holder_name: str
    sort_code: str  # blank for IBAN accounts
    account_last4: str
    verified_at: datetime | None
    verified_consent_id: str

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def masked_number(self) -> str:
        return f"****{self.account_last4}"


@dataclass(frozen=True, slots=True)
class PayoutDestination:
    """The full account details, for the payout rail and the verification only."""

    account_id: str
    holder_name: str
    scheme: str
    sort_code: str
    account_number: str = field(repr=False)  # the account number, or the IBAN
    verified: bool = False
