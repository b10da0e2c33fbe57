"""Customer writes: create, update, delete, and saving a card for a customer.

A customer belongs to one merchant and one mode. Its saved payment methods live in the vault
(``apps.tokenization``), which knows them by the customer's public id (``customer_ref``);
deleting a customer is soft (payments keep naming it) and detaches every saved card through
the vault, which crypto-shreds it. Each change writes an outbox event in its transaction;
creation and deletion are audited.

Saving and detaching a card go through :func:`attach_payment_method` and
:func:`detach_payment_method` whichever endpoint is called (``/v1/customers/{id}/payment_methods``
or ``/v1/payment_methods``), so both check the customer the same way and write the same
``payment_method.attached`` / ``payment_method.detached`` events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.ids import make_public_id
from apps.common.outbox import enqueue_event
from apps.payments.errors import InvalidPaymentRequestError
from apps.payments.metadata import check_free_text, check_metadata
from apps.payments.models import Customer
from apps.payments.selectors import customer_not_found
from apps.tokenization import facade as vault
from apps.tokenization.contracts import PaymentMethodSummary

# longest accepted value of each text field (the columns' lengths)
FIELD_LENGTHS = {"email": 254, "name": 256, "phone": 32, "description": 1000}


def _check_text(*, field: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidPaymentRequestError(message=f"{field} must be a string.", param=field)
    value = value.strip()
    if len(value) > FIELD_LENGTHS[field]:
        raise InvalidPaymentRequestError(
            message=f"{field} is at most {FIELD_LENGTHS[field]} characters.", param=field
        )
    if field in {"name", "description"}:
        check_free_text(value=value, param=field)
    return value


def to_customer_payload(customer: Customer) -> dict[str, Any]:
    """The customer as events carry it (and the API shows it)."""
    if customer.deleted:
        return {"id": customer.public_id, "object": "customer", "deleted": True}
    return {
        "id": customer.public_id,
        "object": "customer",
        "email": customer.email or None,
        "name": customer.name or None,
        "phone": customer.phone or None,
        "description": customer.description or None,
        "metadata": customer.metadata,
        "livemode": customer.mode == "live",
        "created": int(customer.created_at.timestamp()),
    }


def to_payment_method_payload(*, payment_method: PaymentMethodSummary) -> dict[str, Any]:
    card = payment_method.card
    return {
        "id": payment_method.id,
        "object": "payment_method",
        "type": "card",
        "customer": payment_method.customer_ref,
        "card": {
            "brand": card.brand,
            "last4": card.last4,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
            "funding": card.funding,
            "fingerprint": card.fingerprint,
        },
        "livemode": payment_method.mode == "live",
        "created": int(payment_method.created_at.timestamp()),
    }


def _emit(*, customer: Customer, event_type: str, payload: dict[str, Any], now: datetime) -> None:
    enqueue_event(
        event_type=event_type,
        # a deleted customer's payload still says which mode it was in (webhooks route by it)
        payload={**payload, "livemode": customer.mode == "live"},
        aggregate_type="customer",
        aggregate_id=customer.public_id,
        merchant_ref=customer.merchant_ref,
        now=now,
    )


def _emit_payment_method_event(
    *,
    merchant_id: str,
    mode: str,
    customer_ref: str,
    event_type: str,
    payment_method: PaymentMethodSummary,
    now: datetime,
) -> None:
    """``payment_method.attached`` / ``payment_method.detached``, on the customer's stream (a
    detached card's payload says ``customer: null``)."""
    payload = to_payment_method_payload(payment_method=payment_method)
    if event_type == "payment_method.detached":
        payload["customer"] = None
    enqueue_event(
        event_type=event_type,
        payload=payload,
        aggregate_type="customer",
        aggregate_id=customer_ref,
        merchant_ref=merchant_id,
        now=now,
    )


def _lock_customer(*, merchant_id: str, mode: str, customer_id: str) -> Customer:
    customer = (
        Customer.objects.select_for_update()
        .filter(public_id=customer_id, merchant_ref=merchant_id, mode=mode, deleted=False)
        .first()
    )
    if customer is None:
        raise customer_not_found()
    return customer


def create_customer(
    *,
    merchant_id: str,
    mode: str,
    email: str = "",
    name: str = "",
    phone: str = "",
    description: str = "",
    metadata: dict[str, Any] | None = None,
    actor_id: str = "",
    now: datetime | None = None,
) -> Customer:
    now = now or get_now()
    if mode not in {"test", "live"}:
        raise ValueError("mode is test or live")
    values = {
        "email": _check_text(field="email", value=email),
        "name": _check_text(field="name", value=name),
        "phone": _check_text(field="phone", value=phone),
        "description": _check_text(field="description", value=description),
    }
    with transaction.atomic():
        customer = Customer.objects.create(
            public_id=make_public_id(prefix="cus"),
            merchant_ref=merchant_id,
            mode=mode,
            metadata=check_metadata(metadata),
            created_at=now,
            updated_at=now,
            **values,
        )
        record_audit_event(
            action="customer.created",
            actor_type="api_key" if actor_id else "system",
            actor_id=actor_id,
            object_type="customer",
            object_id=customer.public_id,
            merchant_ref=merchant_id,
            metadata={"livemode": mode == "live"},
            occurred_at=now,
        )
        _emit(
            customer=customer,
            event_type="customer.created",
            payload=to_customer_payload(customer),
            now=now,
        )
    return customer


def update_customer(
    *,
    merchant_id: str,
    mode: str,
    customer_id: str,
    email: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    description: str | None = None,
    metadata: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Customer:
    """Change the fields given (``None`` leaves one as it is, ``""`` clears it). Metadata is
    merged into the existing keys; a key set to ``""`` is removed."""
    now = now or get_now()
    changes = {
        field: _check_text(field=field, value=value)
        for field, value in (
            ("email", email),
            ("name", name),
            ("phone", phone),
            ("description", description),
        )
        if value is not None
    }
    with transaction.atomic():
        customer = _lock_customer(merchant_id=merchant_id, mode=mode, customer_id=customer_id)
        for field, value in changes.items():
            setattr(customer, field, value)
        if metadata is not None:
            merged = {**customer.metadata, **check_metadata(metadata)}
            customer.metadata = check_metadata({k: v for k, v in merged.items() if v != ""})
        customer.updated_at = now
        customer.save()
        _emit(
            customer=customer,
            event_type="customer.updated",
            payload=to_customer_payload(customer),
            now=now,
        )
    return customer


def delete_customer(
    *,
    merchant_id: str,
    mode: str,
    customer_id: str,
    actor_id: str = "",
    now: datetime | None = None,
) -> Customer:
    """Soft-delete the customer and detach (crypto-shred) every card saved for it, in one
    transaction: either the customer is deleted with all its cards or nothing changes."""
    now = now or get_now()
    with transaction.atomic():
        customer = _lock_customer(merchant_id=merchant_id, mode=mode, customer_id=customer_id)
        saved = vault.list_payment_methods(
            merchant_id=merchant_id, mode=mode, customer_ref=customer.public_id
        )
        for payment_method in saved:
            _detach(merchant_id=merchant_id, mode=mode, payment_method=payment_method, now=now)
        customer.deleted = True
        customer.deleted_at = now
        customer.updated_at = now
        # erased, not only hidden (GDPR): the row stays for the payments that name it
        customer.email = customer.name = customer.phone = customer.description = ""
        customer.metadata = {}
        customer.save()
        record_audit_event(
            action="customer.deleted",
            actor_type="api_key" if actor_id else "system",
            actor_id=actor_id,
            object_type="customer",
            object_id=customer.public_id,
            merchant_ref=merchant_id,
            metadata={
                "payment_methods_detached": [pm.id for pm in saved],
                "crypto_shredded": True,
            },
            occurred_at=now,
        )
        _emit(
            customer=customer,
            event_type="customer.deleted",
            payload=to_customer_payload(customer),
            now=now,
        )
    return customer


def attach_payment_method(
    *, merchant_id: str, mode: str, customer_id: str, token_id: str, now: datetime | None = None
) -> PaymentMethodSummary:
    """Save the card behind a single-use token (``tok_...``) for the customer: the vault turns
    it into a reusable payment method (``pm_...``). The customer stays locked meanwhile, so a
    concurrent delete cannot leave a card saved for a deleted customer. A token that is not
    the merchant's is the vault's 404 (``param: token``), a used or expired one its 400."""
    now = now or get_now()
    with transaction.atomic():
        customer = _lock_customer(merchant_id=merchant_id, mode=mode, customer_id=customer_id)
        payment_method = vault.create_payment_method_from_token(
            merchant_id=merchant_id,
            mode=mode,
            token_id=token_id,
            customer_ref=customer.public_id,
            now=now,
        )
        _emit_payment_method_event(
            merchant_id=merchant_id,
            mode=mode,
            customer_ref=customer.public_id,
            event_type="payment_method.attached",
            payment_method=payment_method,
            now=now,
        )
    return payment_method


def _detach(
    *, merchant_id: str, mode: str, payment_method: PaymentMethodSummary, now: datetime
) -> None:
    """Crypto-shred the saved card and write ``payment_method.detached`` (caller's
    transaction, customer locked when there is one)."""
    vault.delete_payment_method(
        merchant_id=merchant_id, mode=mode, payment_method_id=payment_method.id, now=now
    )
    _emit_payment_method_event(
        merchant_id=merchant_id,
        mode=mode,
        customer_ref=payment_method.customer_ref,
        event_type="payment_method.detached",
        payment_method=payment_method,
        now=now,
    )


def detach_payment_method(
    *, merchant_id: str, mode: str, payment_method_id: str, now: datetime | None = None
) -> PaymentMethodSummary:
    """Detach a saved card (``pm_...``) of the merchant, in this mode, from its customer: the
    vault crypto-shreds it for good. Another merchant's or mode's card, or one detached
    already, is the vault's 404 (``param: payment_method``). The customer is locked first, as
    when it is deleted or a card is saved for it (one lock order); a card saved before
    customers existed, for a reference naming no customer, is detached all the same."""
    now = now or get_now()
    with transaction.atomic():
        payment_method = vault.get_payment_method(
            merchant_id=merchant_id, mode=mode, payment_method_id=payment_method_id
        )
        # serialises with a concurrent delete of the customer (which detaches this card too:
        # the vault then finds it detached and answers 404)
        Customer.objects.select_for_update().filter(
            public_id=payment_method.customer_ref, merchant_ref=merchant_id, mode=mode
        ).first()
        _detach(merchant_id=merchant_id, mode=mode, payment_method=payment_method, now=now)
    return payment_method


def check_payment_customer(
    *, merchant_id: str, mode: str, customer_id: str, payment_method: str
) -> Customer:
    """The customer a new payment names, which must be the merchant's, in this mode and not
    deleted (else 400 ``resource_missing`` on ``customer``); a saved payment method
    (``pm_...``) used with it must be saved for that customer (else 400 on
    ``payment_method``)."""
    customer = (
        Customer.objects.filter(
            public_id=customer_id, merchant_ref=merchant_id, mode=mode, deleted=False
        ).first()
        if isinstance(customer_id, str)
        else None
    )
    if customer is None:
        raise InvalidPaymentRequestError(
            code="resource_missing", message="No such customer.", param="customer"
        )
    if payment_method.startswith("pm_"):
        saved = vault.get_payment_method(
            merchant_id=merchant_id, mode=mode, payment_method_id=payment_method
        )
        if saved.customer_ref != customer.public_id:
            raise InvalidPaymentRequestError(
                code="payment_method_customer_mismatch",
                message="The payment method is not saved for this customer.",
                param="payment_method",
            )
    return customer
