"""Writes for merchants: every change goes through here and lands in the audit trail.

The lifecycle (applied → in_review → active / rejected / suspended) is decided by the table
in :mod:`apps.merchants.states`; :func:`transition_merchant` is the only writer of
``Merchant.status`` after creation.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.db.models import Sum
from django.views.decorators.debug import sensitive_variables

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.errors import StateError
from apps.common.ids import make_public_id
from apps.common.money import normalize_currency
from apps.common.outbox import enqueue_event
from apps.merchants.account_locks import lock_account_email
from apps.merchants.business_profile import clean_trading_name
from apps.merchants.contracts import (
    BeneficialOwnerInput,
    KybDocumentSummary,
    MerchantSummary,
    SanctionsScreener,
    SanctionsScreeningResult,
    SanctionsScreeningSubject,
)
from apps.merchants.errors import (
    DocumentNotFoundError,
    InvalidMerchantDataError,
    InvalidMerchantTransitionError,
    MerchantNotFoundError,
)
from apps.merchants.kyb import check_kyb_upload
from apps.merchants.models import (
    BeneficialOwner,
    KybDocument,
    KybDocumentType,
    MemberRole,
    Merchant,
    MerchantMembership,
    MerchantStatus,
    MerchantStatusChange,
)
from apps.merchants.notifications import (
    get_merchant_contact_emails,
    send_merchant_email_on_commit,
)
from apps.merchants.selectors import to_kyb_document_summary, to_merchant_summary
from apps.merchants.states import (
    ACTIONS_REQUIRING_A_REASON,
    MerchantAction,
    check_merchant_transition,
)

_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_MCC_RE = re.compile(r"^[0-9]{4}$")
MAX_REASON_LENGTH = 2000


def _normalize_country(*, value: str, param: str) -> str:
    value = (value or "").strip().upper()
    if not _COUNTRY_RE.match(value):
        raise InvalidMerchantDataError(
            message=f"{param} must be an ISO 3166-1 alpha-2 code.", param=param
        )
    return value


def create_merchant(
    *,
    legal_name: str,
    trading_name: str,
    country: str,
    settlement_currency: str,
    support_email: str,
    status: str = MerchantStatus.APPLIED,
    actor_type: str = "system",
    actor_id: str = "",
    now: datetime | None = None,
    registration_number: str = "",
    vat_id: str = "",
    mcc: str = "",
    website: str = "",
    expected_monthly_volume_minor: int = 0,
    beneficial_owners: Sequence[BeneficialOwnerInput] = (),
) -> MerchantSummary:
    """Create a merchant (by default ``applied``) with its beneficial owners, audited."""
    now = now or get_now()
    country = _normalize_country(value=country, param="country")
    if not legal_name.strip() or not trading_name.strip():
        raise InvalidMerchantDataError(
            message="legal_name and trading_name are required.", param="legal_name"
        )
    # shown to shoppers (hosted checkout, emails): the profile page's rules, from the start
    trading_name = clean_trading_name(trading_name)
    if any(unicodedata.category(char).startswith("C") for char in legal_name):
        raise InvalidMerchantDataError(
            message="The legal name cannot contain control characters.", param="legal_name"
        )
    if status not in MerchantStatus.values:
        raise InvalidMerchantDataError(message=f"unknown status {status!r}", param="status")
    mcc = mcc.strip()
    if mcc and not _MCC_RE.match(mcc):
        raise InvalidMerchantDataError(message="MCC must be 4 digits.", param="mcc")
    website = website.strip()
    if website:
        try:
            URLValidator(schemes=["https", "http"])(website)
        except ValidationError:
            raise InvalidMerchantDataError(
                message="website must be a web address.", param="website"
            ) from None
    if (
        isinstance(expected_monthly_volume_minor, bool)
        or not isinstance(expected_monthly_volume_minor, int)
        or expected_monthly_volume_minor < 0
    ):
        raise InvalidMerchantDataError(
            message="expected monthly volume must be a non-negative integer of minor units.",
            param="expected_monthly_volume",
        )
    with transaction.atomic():
        merchant = Merchant.objects.create(
            public_id=make_public_id(prefix="mch"),
            legal_name=legal_name.strip(),
            trading_name=trading_name.strip(),
            country=country,
            settlement_currency=normalize_currency(currency=settlement_currency),
            support_email=support_email,
            status=status,
            created_at=now,
            registration_number=registration_number.strip(),
            vat_id=vat_id.strip().upper().replace(" ", ""),
            mcc=mcc,
            website=website,
            expected_monthly_volume_minor=expected_monthly_volume_minor,
            status_changed_at=now,
        )
        record_audit_event(
            action="merchant.created",
            actor_type=actor_type,
            actor_id=actor_id,
            object_type="merchant",
            object_id=merchant.public_id,
            merchant_ref=merchant.public_id,
            metadata={"status": status},
            occurred_at=now,
        )
        for owner in beneficial_owners:
            add_beneficial_owner(
                merchant_id=merchant.public_id,
                owner=owner,
                actor_type=actor_type,
                actor_id=actor_id,
                now=now,
            )
    return to_merchant_summary(merchant)


def add_beneficial_owner(
    *,
    merchant_id: str,
    owner: BeneficialOwnerInput,
    actor_type: str = "system",
    actor_id: str = "",
    now: datetime | None = None,
) -> str:
    """Record one beneficial owner; returns its public id (``bo_...``)."""
    now = now or get_now()
    if not owner.full_name.strip():
        raise InvalidMerchantDataError(message="owner name is required.", param="owner_name")
    if not isinstance(owner.date_of_birth, date) or owner.date_of_birth >= now.date():
        raise InvalidMerchantDataError(
            message="owner date of birth must be in the past.", param="owner_date_of_birth"
        )
    nationality = _normalize_country(value=owner.nationality, param="owner_nationality")
    try:
        percent = Decimal(owner.ownership_percent)
    except (InvalidOperation, TypeError):
        percent = Decimal(-1)
    if not (Decimal(0) < percent <= Decimal(100)) or percent != percent.quantize(Decimal("0.01")):
        raise InvalidMerchantDataError(
            message="ownership must be more than 0 and at most 100 %, to 2 decimals.",
            param="owner_ownership_percent",
        )
    if any(unicodedata.category(char).startswith("C") for char in owner.full_name):
        raise InvalidMerchantDataError(
            message="The owner's name cannot contain control characters.", param="owner_name"
        )
    with transaction.atomic():
        merchant = _get_merchant_for_update(merchant_id=merchant_id)  # owners added one by one
        held = BeneficialOwner.objects.filter(merchant=merchant).aggregate(
            total=Sum("ownership_percent")
        )["total"] or Decimal(0)
        if held + percent > Decimal(100):
            raise InvalidMerchantDataError(
                message=f"The owners would hold {held + percent} % together; at most 100 %.",
                param="owner_ownership_percent",
            )
        row = BeneficialOwner.objects.create(
            public_id=make_public_id(prefix="bo"),
            merchant=merchant,
            full_name=owner.full_name.strip(),
            date_of_birth=owner.date_of_birth,
            nationality=nationality,
            ownership_percent=percent,
            created_at=now,
        )
        # The name and birth date are personal data: the audit trail keeps only the id.
        record_audit_event(
            action="merchant.beneficial_owner_added",
            actor_type=actor_type,
            actor_id=actor_id,
            object_type="beneficial_owner",
            object_id=row.public_id,
            merchant_ref=merchant.public_id,
            metadata={"ownership_percent": str(percent), "nationality": nationality},
            occurred_at=now,
        )
    return row.public_id


def add_merchant_member(
    *,
    merchant_id: str,
    user_id: int,
    role: str,
    now: datetime | None = None,
    actor_type: str = "system",
    actor_id: str = "",
) -> None:
    now = now or get_now()
    if role not in MemberRole.values:
        raise InvalidMerchantDataError(message=f"unknown role {role!r}", param="role")
    with transaction.atomic():
        merchant = Merchant.objects.get(public_id=merchant_id)
        user = get_user_model().objects.get(pk=user_id)
        MerchantMembership.objects.create(merchant=merchant, user=user, role=role, created_at=now)
        record_audit_event(
            action="merchant.member_added",
            actor_type=actor_type,
            actor_id=actor_id,
            object_type="user",
            object_id=str(user.pk),
            merchant_ref=merchant.public_id,
            metadata={"role": role},
            occurred_at=now,
        )


# --- Self-serve application ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KybUpload:
    document_type: str
    upload: File[bytes]


@sensitive_variables("password")
def apply_for_merchant_account(
    *,
    email: str,
    password: str,
    legal_name: str,
    trading_name: str,
    country: str,
    settlement_currency: str,
    support_email: str,
    registration_number: str = "",
    vat_id: str = "",
    mcc: str = "",
    website: str = "",
    expected_monthly_volume_minor: int = 0,
    beneficial_owners: Sequence[BeneficialOwnerInput] = (),
    documents: Sequence[KybUpload] = (),
    ip_address: str | None = None,
    now: datetime | None = None,
) -> MerchantSummary:
    """Self-serve sign-up: the user, the ``applied`` merchant, the owner membership, the
    beneficial owners and the KYB documents, in one transaction. Test-mode API keys work
    right away (see ``api_keys``); live mode waits until the merchant is active."""
    now = now or get_now()
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidMerchantDataError(message="Enter a valid email.", param="email") from None
    user_model = get_user_model()
    candidate = user_model(username=email, email=email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise InvalidMerchantDataError(message=" ".join(exc.messages), param="password") from None
    for document in documents:  # check every file before writing anything
        check_kyb_upload(upload=document.upload)
    with transaction.atomic():
        lock_account_email(email=email)  # a concurrent sign-up with this email waits here
        if user_model.objects.filter(username__iexact=email).exists():
            raise InvalidMerchantDataError(
                message="An account with this email already exists; sign in instead.",
                param="email",
            )
        user = user_model.objects.create_user(username=email, email=email, password=password)
        record_audit_event(
            action="user.signed_up",
            actor_type="user",
            actor_id=str(user.pk),
            object_type="user",
            object_id=str(user.pk),
            ip_address=ip_address,
            occurred_at=now,
        )
        merchant = create_merchant(
            legal_name=legal_name,
            trading_name=trading_name,
            country=country,
            settlement_currency=settlement_currency,
            support_email=support_email,
            actor_type="user",
            actor_id=str(user.pk),
            now=now,
            registration_number=registration_number,
            vat_id=vat_id,
            mcc=mcc,
            website=website,
            expected_monthly_volume_minor=expected_monthly_volume_minor,
            beneficial_owners=beneficial_owners,
        )
        add_merchant_member(
            merchant_id=merchant.public_id,
            user_id=user.pk,
            role=MemberRole.OWNER,
            now=now,
            actor_type="user",
            actor_id=str(user.pk),
        )
        for document in documents:
            upload_kyb_document(
                merchant_id=merchant.public_id,
                document_type=document.document_type,
                upload=document.upload,
                actor_type="user",
                actor_id=str(user.pk),
                now=now,
            )
        screening = screen_merchant_for_sanctions(merchant_id=merchant.public_id)
        _record_screening(screening=screening, stage="submission", now=now)
        send_merchant_email_on_commit(
            recipients=[email],
            name="application_received",
            context={"name": merchant.trading_name, "legal_name": merchant.legal_name},
        )
    return merchant


# --- KYB documents ------------------------------------------------------------------------


def upload_kyb_document(
    *,
    merchant_id: str,
    document_type: str,
    upload: File[bytes],
    actor_type: str = "system",
    actor_id: str = "",
    now: datetime | None = None,
) -> KybDocumentSummary:
    """Store an uploaded KYB document under MEDIA_ROOT after checking its type (magic bytes)
    and size (``KYB_DOCUMENT_MAX_BYTES``)."""
    now = now or get_now()
    if document_type not in KybDocumentType.values:
        raise InvalidMerchantDataError(
            message=f"unknown document type {document_type!r}", param="document_type"
        )
    content_type = check_kyb_upload(upload=upload)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    original_name = (upload.name or "").rsplit("/", 1)[-1][:255]
    with transaction.atomic():
        merchant = _get_merchant_for_update(merchant_id=merchant_id)
        document = KybDocument(
            public_id=make_public_id(prefix="doc"),
            merchant=merchant,
            document_type=document_type,
            original_name=original_name,
            content_type=content_type,
            size_bytes=upload.size or 0,
            sha256=digest.hexdigest(),
            uploaded_at=now,
        )
        document.file.save(original_name or "document", upload, save=False)
        try:
            document.save()
            record_audit_event(
                action="merchant.document_uploaded",
                actor_type=actor_type,
                actor_id=actor_id,
                object_type="kyb_document",
                object_id=document.public_id,
                merchant_ref=merchant.public_id,
                metadata={
                    "document_type": document_type,
                    "content_type": content_type,
                    "size_bytes": document.size_bytes,
                    "sha256": document.sha256,
                },
                occurred_at=now,
            )
        except BaseException:
            document.file.delete(save=False)
            raise
    return to_kyb_document_summary(document)


@dataclass(frozen=True, slots=True)
class OpenedKybDocument:
    file: File[bytes]
    content_type: str
    download_name: str


def open_kyb_document_for_staff(
    *,
    document_id: str,
    staff_user_id: int,
    ip_address: str | None = None,
    now: datetime | None = None,
) -> OpenedKybDocument:
    """Open a KYB document for a platform admin, auditing ``merchant.document_accessed``.
    The caller (the admin download view) has already checked the staff permission."""
    now = now or get_now()
    document = KybDocument.objects.select_related("merchant").filter(public_id=document_id).first()
    if document is None:
        raise DocumentNotFoundError(param="document")
    try:
        document.file.open("rb")
        outcome = "served"
    except OSError:  # the row exists but the file is gone from MEDIA_ROOT
        outcome = "file_missing"
    record_audit_event(
        action="merchant.document_accessed",
        actor_type="admin",
        actor_id=str(staff_user_id),
        object_type="kyb_document",
        object_id=document.public_id,
        merchant_ref=document.merchant.public_id,
        ip_address=ip_address,
        metadata={"document_type": document.document_type, "outcome": outcome},
        occurred_at=now,
    )
    if outcome != "served":
        raise DocumentNotFoundError(
            message="The document's file is missing from storage.", param="document"
        )
    extension = (document.file.name or "").rsplit(".", 1)[-1]
    return OpenedKybDocument(
        file=document.file,
        content_type=document.content_type,
        download_name=f"{document.public_id}.{extension}",
    )


# --- Sanctions screening (a provider registers itself: the risk app) ---------------------

_sanctions_screener: SanctionsScreener | None = None


def register_sanctions_screener(*, screener: SanctionsScreener | None) -> None:
    """Plug a sanctions screening provider in (the risk app does, in its ``ready()``), or
    unplug it with ``None``. The merchants app cannot import the risk app (dependencies point
    risk → merchants), so the provider comes to it."""
    global _sanctions_screener
    _sanctions_screener = screener


def screen_merchant_for_sanctions(*, merchant_id: str) -> SanctionsScreeningResult:
    """Screen the merchant's legal name, trading name and beneficial owners.

    Called when an application is submitted and again before approval, through the
    registered provider; :func:`approve_merchant` refuses to approve on a ``"hit"``. With no
    provider registered this honestly returns ``outcome="not_screened"``: it never pretends
    to have screened.
    """
    screener = _sanctions_screener
    if screener is None:
        return SanctionsScreeningResult(merchant_id=merchant_id, outcome="not_screened")
    merchant = Merchant.objects.filter(public_id=merchant_id).first()
    if merchant is None:
        raise MerchantNotFoundError(param="merchant")
    owners = merchant.beneficial_owners.order_by("id").values_list("full_name", flat=True)
    return screener(
        SanctionsScreeningSubject(
            merchant_id=merchant.public_id,
            legal_name=merchant.legal_name,
            trading_name=merchant.trading_name,
            beneficial_owner_names=tuple(owners),
        )
    )


def _record_screening(*, screening: SanctionsScreeningResult, stage: str, now: datetime) -> None:
    record_audit_event(
        action="merchant.sanctions_screened",
        actor_type="system",
        object_type="merchant",
        object_id=screening.merchant_id,
        merchant_ref=screening.merchant_id,
        metadata={
            "stage": stage,
            "outcome": screening.outcome,
            "provider": screening.provider,
            "details": dict(screening.details),
            "matches": [match.as_dict() for match in screening.matches],
        },
        occurred_at=now,
    )


# --- Lifecycle ----------------------------------------------------------------------------


def _get_merchant_for_update(*, merchant_id: str) -> Merchant:
    merchant = Merchant.objects.select_for_update().filter(public_id=merchant_id).first()
    if merchant is None:
        raise MerchantNotFoundError(param="merchant")
    return merchant


def transition_merchant(
    *,
    merchant_id: str,
    action: str,
    reason: str = "",
    actor_type: str,
    actor_id: str = "",
    notify: bool = True,
    now: datetime | None = None,
) -> MerchantSummary:
    """Apply one lifecycle action: checks the transition table, records the reason in the
    status history and the audit trail, writes a ``merchant.status_changed`` outbox event and
    emails the applicant after commit."""
    now = now or get_now()
    reason = (reason or "").strip()
    try:
        action = MerchantAction(action)
    except ValueError:
        raise InvalidMerchantTransitionError(
            message=f"Unknown action {action!r}.", param="action"
        ) from None
    if action in ACTIONS_REQUIRING_A_REASON and not reason:
        raise InvalidMerchantDataError(message="A reason is required.", param="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidMerchantDataError(message="The reason is too long.", param="reason")
    try:
        return _apply_merchant_transition(
            merchant_id=merchant_id,
            action=action,
            reason=reason,
            actor_type=actor_type,
            actor_id=actor_id,
            notify=notify,
            now=now,
        )
    except _SanctionsHitError as hit:
        # The refused transaction rolled back; the hit itself must stay in the audit trail.
        _record_screening(screening=hit.screening, stage="approval", now=now)
        raise StateError(
            message="Sanctions screening reported a hit; the merchant cannot be approved.",
            code="sanctions_hit",
        ) from None


class _SanctionsHitError(Exception):
    def __init__(self, screening: SanctionsScreeningResult) -> None:
        super().__init__("sanctions hit")
        self.screening = screening


def _apply_merchant_transition(
    *,
    merchant_id: str,
    action: MerchantAction,
    reason: str,
    actor_type: str,
    actor_id: str,
    notify: bool,
    now: datetime,
) -> MerchantSummary:
    with transaction.atomic():
        merchant = _get_merchant_for_update(merchant_id=merchant_id)
        previous = merchant.status
        target = check_merchant_transition(current=previous, action=action)
        screening_outcome = ""
        if action == MerchantAction.APPROVE:
            screening = screen_merchant_for_sanctions(merchant_id=merchant.public_id)
            if screening.is_hit:
                raise _SanctionsHitError(screening)
            _record_screening(screening=screening, stage="approval", now=now)
            screening_outcome = screening.outcome
        merchant.status = target
        merchant.status_reason = reason
        merchant.status_changed_at = now
        merchant.save(update_fields=["status", "status_reason", "status_changed_at"])
        MerchantStatusChange.objects.create(
            merchant=merchant,
            from_status=previous,
            to_status=target,
            reason=reason,
            actor_type=actor_type,
            actor_id=actor_id,
            created_at=now,
        )
        metadata = {"from": previous, "to": target.value, "action": action.value, "reason": reason}
        if screening_outcome:
            metadata["sanctions_outcome"] = screening_outcome
        record_audit_event(
            action="merchant.status_changed",
            actor_type=actor_type,
            actor_id=actor_id,
            object_type="merchant",
            object_id=merchant.public_id,
            merchant_ref=merchant.public_id,
            metadata=metadata,
            occurred_at=now,
        )
        enqueue_event(
            event_type="merchant.status_changed",
            payload={"merchant": merchant.public_id, "from": previous, "to": target.value},
            aggregate_type="merchant",
            aggregate_id=merchant.public_id,
            merchant_ref=merchant.public_id,
            now=now,
        )
        if notify:
            send_merchant_email_on_commit(
                recipients=get_merchant_contact_emails(merchant=merchant),
                name=action.value,
                context={"name": merchant.trading_name, "reason": reason},
            )
    return to_merchant_summary(merchant)


def start_merchant_review(
    *, merchant_id: str, actor_type: str, actor_id: str = "", reason: str = ""
) -> MerchantSummary:
    return transition_merchant(
        merchant_id=merchant_id,
        action=MerchantAction.START_REVIEW,
        reason=reason,
        actor_type=actor_type,
        actor_id=actor_id,
    )


def approve_merchant(
    *, merchant_id: str, actor_type: str, actor_id: str = "", reason: str = ""
) -> MerchantSummary:
    return transition_merchant(
        merchant_id=merchant_id,
        action=MerchantAction.APPROVE,
        reason=reason,
        actor_type=actor_type,
        actor_id=actor_id,
    )


def reject_merchant(
    *, merchant_id: str, reason: str, actor_type: str, actor_id: str = ""
) -> MerchantSummary:
    return transition_merchant(
        merchant_id=merchant_id,
        action=MerchantAction.REJECT,
        reason=reason,
        actor_type=actor_type,
        actor_id=actor_id,
    )


def request_merchant_information(
    *, merchant_id: str, reason: str, actor_type: str, actor_id: str = ""
) -> MerchantSummary:
    return transition_merchant(
        merchant_id=merchant_id,
        action=MerchantAction.REQUEST_INFORMATION,
        reason=reason,
        actor_type=actor_type,
        actor_id=actor_id,
    )


def suspend_merchant(
    *, merchant_id: str, reason: str, actor_type: str, actor_id: str = ""
) -> MerchantSummary:
    return transition_merchant(
        merchant_id=merchant_id,
        action=MerchantAction.SUSPEND,
        reason=reason,
        actor_type=actor_type,
        actor_id=actor_id,
    )


def reinstate_merchant(
    *, merchant_id: str, reason: str, actor_type: str, actor_id: str = ""
) -> MerchantSummary:
    return transition_merchant(
        merchant_id=merchant_id,
        action=MerchantAction.REINSTATE,
        reason=reason,
        actor_type=actor_type,
        actor_id=actor_id,
    )
