"""Reads of merchants."""

from __future__ import annotations

from datetime import datetime

from apps.merchants.contracts import KybDocumentSummary, MemberSummary, MerchantSummary
from apps.merchants.errors import MerchantNotFoundError
from apps.merchants.models import KybDocument, Merchant, MerchantMembership, MerchantStatusChange


def to_merchant_summary(merchant: Merchant) -> MerchantSummary:
    return MerchantSummary(
        public_id=merchant.public_id,
        legal_name=merchant.legal_name,
        trading_name=merchant.trading_name,
        country=merchant.country,
        settlement_currency=merchant.settlement_currency,
        status=merchant.status,
        support_email=merchant.support_email,
        created_at=merchant.created_at,
        api_version=merchant.api_version,
    )


def get_merchant_summary(*, merchant_id: str) -> MerchantSummary:
    merchant = Merchant.objects.filter(public_id=merchant_id).first()
    if merchant is None:
        raise MerchantNotFoundError(param="merchant")
    return to_merchant_summary(merchant)


def list_merchant_ids_for_user(*, user_id: int) -> list[str]:
    return list(
        Merchant.objects.filter(memberships__user_id=user_id)
        .order_by("id")
        .values_list("public_id", flat=True)
    )


def to_kyb_document_summary(document: KybDocument) -> KybDocumentSummary:
    return KybDocumentSummary(
        document_id=document.public_id,
        merchant_id=document.merchant.public_id,
        document_type=document.document_type,
        content_type=document.content_type,
        size_bytes=document.size_bytes,
        sha256=document.sha256,
        uploaded_at=document.uploaded_at,
    )


def list_kyb_documents(*, merchant_id: str) -> list[KybDocumentSummary]:
    documents = KybDocument.objects.select_related("merchant").filter(
        merchant__public_id=merchant_id
    )
    return [to_kyb_document_summary(document) for document in documents.order_by("id")]


def list_merchant_members(*, merchant_id: str) -> list[MemberSummary]:
    memberships = MerchantMembership.objects.select_related("user", "merchant").filter(
        merchant__public_id=merchant_id
    )
    return [
        MemberSummary(
            user_id=membership.user_id,
            merchant_id=membership.merchant.public_id,
            email=membership.user.email,
            role=membership.role,
            created_at=membership.created_at,
        )
        for membership in memberships.order_by("id")
    ]


def get_member_role(*, merchant_id: str, user_id: int) -> str | None:
    return (
        MerchantMembership.objects.filter(merchant__public_id=merchant_id, user_id=user_id)
        .values_list("role", flat=True)
        .first()
    )


def list_status_history(*, merchant_id: str) -> list[tuple[str, str, str, datetime]]:
    """(from, to, reason, at) for each lifecycle change of the merchant, oldest first."""
    rows = MerchantStatusChange.objects.filter(merchant__public_id=merchant_id).order_by("id")
    return [(row.from_status, row.to_status, row.reason, row.created_at) for row in rows]
