"""Public interface of the openbanking app: the only module other apps import (with contracts).

Consents, account information and pay by bank. For pay by bank, the payments app:

1. ``start_bank_payment(...)`` → a :class:`BankPaymentSummary` in ``requires_action`` whose
   ``authorization_url`` the shopper is sent to;
2. the bank redirects the shopper to PaymentHub's callback (``/v1/open-banking/callback``),
   which calls ``complete_bank_authorization`` (submitting the domestic payment) and then
   redirects to the ``return_url`` given at the start, with ``bank_payment`` and ``status``;
3. ``get_bank_payment`` / ``sync_bank_payment`` follow it to ``succeeded`` or ``failed``;
   the outbox events ``open_banking.bank_payment.{pending,succeeded,failed}`` carry the
   ``metadata`` given at the start (e.g. the payment's id) and the bank's reference.
"""

from __future__ import annotations

from typing import Any

from apps.common.money import Money
from apps.openbanking import selectors, services
from apps.openbanking.conf import get_banks, get_collection_account
from apps.openbanking.contracts import (
    AuthorizationOutcome,
    BankAccountSummary,
    BankBalanceSummary,
    BankCreditor,
    BankPaymentSummary,
    BankSummary,
    BankTransactionSummary,
    ConsentSummary,
    PayoutAccountCheck,
)
from apps.openbanking.models import BankConsent, BankPayment

__all__ = [
    "check_payout_account",
    "complete_bank_authorization",
    "connect_bank_account",
    "get_bank_payment",
    "get_collection_creditor",
    "get_connected_balances",
    "list_banks",
    "list_connected_accounts",
    "list_connected_transactions",
    "start_bank_payment",
    "start_refund_payment",
    "sync_bank_payment",
    "withdraw_bank_payment",
]


def to_bank_payment_summary(payment: BankPayment) -> BankPaymentSummary:
    consent = payment.consent
    return BankPaymentSummary(
        id=payment.public_id,
        consent_id=consent.public_id,
        bank=consent.bank_code,
        status=payment.status,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        reference=payment.reference,
        authorization_url=services.authorization_url_for(consent=consent)
        if payment.status == "requires_action"
        else "",
        return_url=consent.return_url,
        bank_reference=payment.bank_payment_id,
        bank_status=payment.bank_status,
        failure_code=payment.failure_code,
        created_at=payment.created_at,
        purpose=payment.purpose,
        refund_account_last4=payment.refund_account_last4,
        refund_of=payment.refund_of.public_id if payment.refund_of is not None else "",
    )


def to_consent_summary(consent: BankConsent) -> ConsentSummary:
    return ConsentSummary(
        id=consent.public_id,
        kind=consent.kind,
        bank=consent.bank_code,
        status=consent.status,
        permissions=tuple(consent.permissions),
        authorization_url=services.authorization_url_for(consent=consent),
        return_url=consent.return_url,
        expires_at=consent.expires_at,
        created_at=consent.created_at,
    )


def list_banks() -> list[BankSummary]:
    """The banks a shopper or merchant can choose (configured in OPENBANKING_BANKS)."""
    return [BankSummary(code=bank.code, name=bank.name) for bank in get_banks().values()]


def get_collection_creditor() -> BankCreditor:
    """PaymentHub's collection account: where pay-by-bank payments are paid (the platform
    collects, like a card processor, and settles to merchants from its books)."""
    account = get_collection_account()
    return BankCreditor(
        name=account["name"],
        sort_code=account["sort_code"],
        account_number=account["account_number"],
    )


def start_bank_payment(
    *,
    merchant_id: str,
    mode: str,
    bank_code: str,
    amount: Money,
    creditor: BankCreditor,
    reference: str,
    return_url: str,
    metadata: dict[str, Any] | None = None,
) -> BankPaymentSummary:
    """Create the domestic payment consent at the bank; the shopper authorises it at the
    returned ``authorization_url``. Raises BankRequestRefusedError (400) or
    BankUnavailableError (502)."""
    payment = services.create_bank_payment(
        merchant_id=merchant_id,
        mode=mode,
        bank_code=bank_code,
        amount=amount,
        creditor=services.Creditor(
            name=creditor.name, sort_code=creditor.sort_code, account_number=creditor.account_number
        ),
        reference=reference,
        return_url=return_url,
        metadata=metadata,
        read_refund_account=True,  # the payer's account, kept sealed to pay refunds into
    )
    return to_bank_payment_summary(payment)


def start_refund_payment(
    *,
    merchant_id: str,
    mode: str,
    bank_payment_id: str,
    amount: Money,
    reference: str,
    request_key: str,
    metadata: dict[str, Any] | None = None,
) -> BankPaymentSummary:
    """Pay (part of) a succeeded pay-by-bank payment back to its payer: a domestic payment
    from PaymentHub's collection account to the account the payer's bank shared
    (ReadRefundAccount), with its own consent, in ``requires_action`` until the collection
    account's holder (PaymentHub's operations) authorises it at ``authorization_url``; then
    submitted and followed like any bank payment (``get_bank_payment``/``sync_bank_payment``,
    ``open_banking.bank_payment.*`` events carrying ``metadata``).

    Once per ``request_key`` (the caller's attempt id): asking again returns the same
    payment, resolving a consent creation whose answer was lost with the same
    x-idempotency-key. Raises BankRefundNotPossibleError (409: not succeeded, no refund
    account, refunds beyond the payment), BankRequestRefusedError (400) or
    BankUnavailableError (502, outcome unknown: ask again with the same key)."""
    payment = services.start_refund_payment(
        merchant_id=merchant_id,
        mode=mode,
        bank_payment_id=bank_payment_id,
        amount=amount,
        reference=reference,
        request_key=request_key,
        metadata=metadata,
    )
    return to_bank_payment_summary(payment)


def complete_bank_authorization(
    *, state: str, code: str | None, error: str | None
) -> AuthorizationOutcome:
    """The bank sent the customer back (``state`` and ``code``, or ``error``)."""
    consent = services.complete_authorization(state=state, code=code, error=error)
    payment = BankPayment.objects.filter(consent=consent).first()
    return AuthorizationOutcome(
        consent_id=consent.public_id,
        kind=consent.kind,
        status=consent.status,
        return_url=consent.return_url,
        bank_payment_id=payment.public_id if payment else None,
        bank_payment_status=payment.status if payment else None,
    )


def get_bank_payment(*, merchant_id: str, mode: str, bank_payment_id: str) -> BankPaymentSummary:
    return to_bank_payment_summary(
        selectors.get_bank_payment(merchant_id=merchant_id, mode=mode, payment_id=bank_payment_id)
    )


def withdraw_bank_payment(*, merchant_id: str, mode: str, bank_payment_id: str) -> bool:
    """Withdraw a bank payment the payer has not authorised yet, so it is never submitted:
    True when it can no longer be paid, False when it is too late (the payer authorised it,
    or the bank's redirect is being completed)."""
    selectors.get_bank_payment(merchant_id=merchant_id, mode=mode, payment_id=bank_payment_id)
    return services.withdraw_bank_payment(payment_id=bank_payment_id)


def sync_bank_payment(*, merchant_id: str, mode: str, bank_payment_id: str) -> BankPaymentSummary:
    """Ask the bank now (resolves ``unknown``, follows ``pending``)."""
    selectors.get_bank_payment(merchant_id=merchant_id, mode=mode, payment_id=bank_payment_id)
    services.sync_bank_payment(payment_id=bank_payment_id)
    return get_bank_payment(merchant_id=merchant_id, mode=mode, bank_payment_id=bank_payment_id)


def connect_bank_account(
    *, merchant_id: str, mode: str, bank_code: str, return_url: str
) -> ConsentSummary:
    """Start connecting a merchant's own bank account: an account-access consent whose
    ``authorization_url`` the merchant follows."""
    consent = services.create_account_access_consent(
        merchant_id=merchant_id, mode=mode, bank_code=bank_code, return_url=return_url
    )
    return to_consent_summary(consent)


def list_connected_accounts(
    *, merchant_id: str, mode: str, consent_id: str
) -> list[BankAccountSummary]:
    return [
        BankAccountSummary(
            account_id=a.account_id,
            currency=a.currency,
            scheme_name=a.scheme_name,
            identification=a.identification,
            holder_name=a.holder_name,
            nickname=a.nickname,
        )
        for a in services.read_accounts(merchant_id=merchant_id, mode=mode, consent_id=consent_id)
    ]


def check_payout_account(
    *,
    merchant_id: str,
    mode: str,
    consent_id: str,
    holder_name: str,
    sort_code: str,
    account_number: str,
) -> PayoutAccountCheck:
    """Whether the payout account (holder name and number) is one of the accounts the
    merchant showed it holds through this authorised account-access consent."""
    return services.verify_payout_account(
        merchant_id=merchant_id,
        mode=mode,
        consent_id=consent_id,
        holder_name=holder_name,
        sort_code=sort_code,
        account_number=account_number,
    )


def _signed_minor(*, amount: str, currency: str, credit_debit: str) -> int:
    value = Money.from_decimal_string(amount=amount, currency=currency).amount_minor
    return -value if credit_debit == "Debit" else value


def get_connected_balances(
    *, merchant_id: str, mode: str, consent_id: str, account_id: str
) -> list[BankBalanceSummary]:
    """Balances of a connected account, read from the bank now (for the portal)."""
    return [
        BankBalanceSummary(
            account_id=b.account_id,
            amount_minor=_signed_minor(
                amount=b.amount, currency=b.currency, credit_debit=b.credit_debit
            ),
            currency=b.currency,
            balance_type=b.balance_type,
            as_of=b.at,
        )
        for b in services.read_balances(
            merchant_id=merchant_id, mode=mode, consent_id=consent_id, account_id=account_id
        )
    ]


def list_connected_transactions(
    *, merchant_id: str, mode: str, consent_id: str, account_id: str, limit: int = 50
) -> list[BankTransactionSummary]:
    """Recent transactions of a connected account, newest first (for the portal)."""
    rows = services.read_transactions(
        merchant_id=merchant_id, mode=mode, consent_id=consent_id, account_id=account_id
    )
    return [
        BankTransactionSummary(
            account_id=t.account_id,
            transaction_id=t.transaction_id,
            amount_minor=_signed_minor(
                amount=t.amount, currency=t.currency, credit_debit=t.credit_debit
            ),
            currency=t.currency,
            status=t.status,
            booked_at=t.booked_at,
            description=t.description,
            reference=t.reference,
        )
        for t in rows[:limit]
    ]
