"""The integrators' Open Banking API under /v1/open-banking/: thin views, one service or
selector call each, scoped to the API key's merchant and mode."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api.idempotency import IdempotentAPIView
from apps.common.api.schema import ErrorResponse
from apps.common.errors import NotFoundError
from apps.common.money import Money
from apps.merchants.contracts import ApiKeyPrincipal
from apps.merchants.facade import get_api_principal
from apps.openbanking import facade, selectors, services
from apps.openbanking.api.serializers import (
    BankAccountListSerializer,
    BankBalanceListSerializer,
    BankListSerializer,
    BankPaymentCreateSerializer,
    BankPaymentListSerializer,
    BankPaymentSerializer,
    BankTransactionListSerializer,
    ConsentCreateSerializer,
    ConsentListSerializer,
    ConsentSerializer,
)
from apps.openbanking.models import BankConsent, BankPayment

TAGS = ["Open banking"]
REFUSED = ErrorResponse(
    "consent_revoked",
    "consent_expired",
    "consent_rejected",
    "consent_consumed",
    "consent_not_authorised",
    description="The consent does not allow the request; refused before any bank call.",
)
BANK_DOWN = ErrorResponse("bank_unavailable", description="The bank did not answer.")


def _unix(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def _actor(request: Request, principal: ApiKeyPrincipal) -> services.Actor:
    return services.Actor(
        actor_type="api_key", actor_id=principal.key_id, ip_address=request.META.get("REMOTE_ADDR")
    )


def to_consent_body(consent: BankConsent) -> dict[str, Any]:
    return {
        "id": consent.public_id,
        "object": "open_banking_consent",
        "bank": consent.bank_code,
        "kind": consent.kind,
        "status": consent.status,
        "permissions": list(consent.permissions),
        "authorization_url": services.authorization_url_for(consent=consent) or None,
        "return_url": consent.return_url,
        "expires_at": _unix(consent.expires_at),
        "created": _unix(consent.created_at),
    }


def to_bank_payment_body(payment: BankPayment) -> dict[str, Any]:
    summary = facade.to_bank_payment_summary(payment)
    return {
        "id": summary.id,
        "object": "bank_payment",
        "amount": summary.amount_minor,
        "currency": summary.currency.lower(),
        "status": summary.status,
        "bank": summary.bank,
        "consent": summary.consent_id,
        "reference": summary.reference,
        "authorization_url": summary.authorization_url or None,
        "return_url": summary.return_url,
        "bank_reference": summary.bank_reference or None,
        "bank_status": summary.bank_status or None,
        "failure_code": summary.failure_code or None,
        "metadata": payment.metadata,
        "created": _unix(summary.created_at),
    }


def _minor(amount: str, currency: str, credit_debit: str) -> int:
    value = Money.from_decimal_string(amount=amount, currency=currency).amount_minor
    return -value if credit_debit == "Debit" else value


class BankCollectionView(APIView):
    @extend_schema(
        operation_id="list_banks",
        summary="List banks",
        description="The banks customers can choose for consents and bank payments.",
        responses={200: BankListSerializer},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        get_api_principal(request=request)
        data = [{"id": b.code, "object": "bank", "name": b.name} for b in facade.list_banks()]
        return Response(BankListSerializer({"object": "list", "data": data}).data)


class ConsentCollectionView(IdempotentAPIView):
    idempotency_atomic = False  # calls the bank: no transaction across it

    @extend_schema(
        operation_id="list_open_banking_consents",
        summary="List consents",
        description="Newest first (up to 100).",
        responses={200: ConsentListSerializer},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        consents = selectors.list_consents(merchant_id=principal.merchant_id, mode=principal.mode)
        body = {"object": "list", "data": [to_consent_body(c) for c in consents]}
        return Response(ConsentListSerializer(body).data)

    @extend_schema(
        operation_id="create_open_banking_consent",
        summary="Create an account-access consent",
        description="Creates the consent at the bank; send the customer to "
        "`authorization_url`. After the bank, the customer lands on `return_url` with "
        "`consent` and `status`. Send an `Idempotency-Key`.",
        request=ConsentCreateSerializer,
        responses={
            201: ConsentSerializer,
            400: ErrorResponse("bank_unknown", "expiry_in_past", "bank_refused"),
            502: BANK_DOWN,
        },
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        data = ConsentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        expires = values.get("expires_at")
        consent = services.create_account_access_consent(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            bank_code=values["bank"],
            return_url=values["return_url"],
            permissions=values.get("permissions"),
            expires_at=None if expires is None else datetime.fromtimestamp(expires, tz=UTC),
        )
        return Response(ConsentSerializer(to_consent_body(consent)).data, status=201)


class ConsentDetailView(APIView):
    @extend_schema(
        operation_id="retrieve_open_banking_consent",
        summary="Retrieve a consent",
        responses={200: ConsentSerializer},
        tags=TAGS,
    )
    def get(self, request: Request, consent_id: str) -> Response:
        principal = get_api_principal(request=request)
        consent = selectors.get_consent(
            merchant_id=principal.merchant_id, mode=principal.mode, consent_id=consent_id
        )
        return Response(ConsentSerializer(to_consent_body(consent)).data)


class ConsentRevokeView(IdempotentAPIView):
    idempotency_atomic = False

    @extend_schema(
        operation_id="revoke_open_banking_consent",
        summary="Revoke a consent",
        description="Refuses every later use at once, then tells the bank.",
        request=None,
        responses={200: ConsentSerializer},
        tags=TAGS,
    )
    def post(self, request: Request, consent_id: str) -> Response:
        principal = get_api_principal(request=request)
        consent = services.revoke_consent(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            consent_id=consent_id,
            actor=_actor(request, principal),
        )
        return Response(ConsentSerializer(to_consent_body(consent)).data)


class ConsentAccountsView(APIView):
    @extend_schema(
        operation_id="list_open_banking_accounts",
        summary="List the consent's accounts",
        description="Read from the bank now.",
        responses={200: BankAccountListSerializer, 409: REFUSED, 502: BANK_DOWN},
        tags=TAGS,
    )
    def get(self, request: Request, consent_id: str) -> Response:
        principal = get_api_principal(request=request)
        accounts = services.read_accounts(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            consent_id=consent_id,
            actor=_actor(request, principal),
        )
        data = [
            {
                "id": a.account_id,
                "object": "bank_account",
                "currency": a.currency,
                "scheme_name": a.scheme_name,
                "identification": a.identification,
                "holder_name": a.holder_name,
                "nickname": a.nickname,
            }
            for a in accounts
        ]
        return Response(BankAccountListSerializer({"object": "list", "data": data}).data)


class ConsentBalancesView(APIView):
    @extend_schema(
        operation_id="list_open_banking_balances",
        summary="List an account's balances",
        responses={200: BankBalanceListSerializer, 409: REFUSED, 502: BANK_DOWN},
        tags=TAGS,
    )
    def get(self, request: Request, consent_id: str, account_id: str) -> Response:
        principal = get_api_principal(request=request)
        balances = services.read_balances(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            consent_id=consent_id,
            account_id=account_id,
            actor=_actor(request, principal),
        )
        data = [
            {
                "object": "bank_balance",
                "amount": _minor(b.amount, b.currency, b.credit_debit),
                "currency": b.currency.lower(),
                "type": b.balance_type,
                "as_of": _unix(b.at),
            }
            for b in balances
        ]
        return Response(BankBalanceListSerializer({"object": "list", "data": data}).data)


class ConsentTransactionsView(APIView):
    @extend_schema(
        operation_id="list_open_banking_transactions",
        summary="List an account's transactions",
        description="Newest first, as the bank gives them.",
        responses={200: BankTransactionListSerializer, 409: REFUSED, 502: BANK_DOWN},
        tags=TAGS,
    )
    def get(self, request: Request, consent_id: str, account_id: str) -> Response:
        principal = get_api_principal(request=request)
        rows = services.read_transactions(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            consent_id=consent_id,
            account_id=account_id,
            actor=_actor(request, principal),
        )
        data = [
            {
                "id": t.transaction_id,
                "object": "bank_transaction",
                "amount": _minor(t.amount, t.currency, t.credit_debit),
                "currency": t.currency.lower(),
                "status": t.status,
                "booked": _unix(t.booked_at),
                "description": t.description,
                "reference": t.reference,
            }
            for t in rows
        ]
        return Response(BankTransactionListSerializer({"object": "list", "data": data}).data)


class BankPaymentCollectionView(IdempotentAPIView):
    idempotency_atomic = False

    @extend_schema(
        operation_id="list_bank_payments",
        summary="List bank payments",
        description="Newest first (up to 100).",
        responses={200: BankPaymentListSerializer},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        payments = selectors.list_bank_payments(
            merchant_id=principal.merchant_id, mode=principal.mode
        )
        body = {"object": "list", "data": [to_bank_payment_body(p) for p in payments]}
        return Response(BankPaymentListSerializer(body).data)

    @extend_schema(
        operation_id="create_bank_payment",
        summary="Create a bank payment",
        description="Creates a domestic payment consent at the bank; the payment is "
        "`requires_action` until the customer approves at `authorization_url`, then it is "
        "submitted and followed to `succeeded` or `failed`. Send an `Idempotency-Key`.",
        request=BankPaymentCreateSerializer,
        responses={
            201: BankPaymentSerializer,
            400: ErrorResponse(
                "bank_unknown", "currency_not_supported", "bank_refused", "invalid_amount"
            ),
            502: BANK_DOWN,
        },
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        data = BankPaymentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        creditor = values["creditor"]
        payment = services.create_bank_payment(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            bank_code=values["bank"],
            amount=Money(amount_minor=values["amount"], currency=values["currency"].upper()),
            creditor=services.Creditor(
                name=creditor["name"],
                sort_code=creditor["sort_code"],
                account_number=creditor["account_number"],
            ),
            reference=values["reference"],
            return_url=values["return_url"],
            metadata=values.get("metadata") or {},
        )
        return Response(BankPaymentSerializer(to_bank_payment_body(payment)).data, status=201)


class BankPaymentDetailView(APIView):
    @extend_schema(
        operation_id="retrieve_bank_payment",
        summary="Retrieve a bank payment",
        responses={200: BankPaymentSerializer},
        tags=TAGS,
    )
    def get(self, request: Request, payment_id: str) -> Response:
        principal = get_api_principal(request=request)
        payment = selectors.get_bank_payment(
            merchant_id=principal.merchant_id, mode=principal.mode, payment_id=payment_id
        )
        return Response(BankPaymentSerializer(to_bank_payment_body(payment)).data)


class BankPaymentSyncView(IdempotentAPIView):
    idempotency_atomic = False

    @extend_schema(
        operation_id="sync_bank_payment",
        summary="Ask the bank for a bank payment's status now",
        description="Resolves `unknown` (same x-idempotency-key at the bank) and follows "
        "`pending`; a background job does the same every minute.",
        request=None,
        responses={200: BankPaymentSerializer},
        tags=TAGS,
    )
    def post(self, request: Request, payment_id: str) -> Response:
        principal = get_api_principal(request=request)
        selectors.get_bank_payment(
            merchant_id=principal.merchant_id, mode=principal.mode, payment_id=payment_id
        )
        services.sync_bank_payment(payment_id=payment_id)
        payment = selectors.get_bank_payment(
            merchant_id=principal.merchant_id, mode=principal.mode, payment_id=payment_id
        )
        return Response(BankPaymentSerializer(to_bank_payment_body(payment)).data)


@require_GET
def authorization_callback(request: HttpRequest) -> HttpResponse:
    """Where banks send the customer back (``state`` and ``code``, or ``error``): complete the
    consent (submitting a bank payment), then send the customer to the integrator's
    ``return_url`` with ``consent``, ``status`` and, for payments, ``bank_payment``."""
    state = request.GET.get("state", "")
    try:
        outcome = facade.complete_bank_authorization(
            state=state, code=request.GET.get("code") or None, error=request.GET.get("error")
        )
    except NotFoundError:
        return HttpResponse(
            "Unknown or expired authorisation.", status=400, content_type="text/plain"
        )
    query = {"consent": outcome.consent_id, "status": outcome.status}
    if outcome.bank_payment_id:
        query.update(
            bank_payment=outcome.bank_payment_id,
            bank_payment_status=outcome.bank_payment_status or "",
        )
    target = outcome.return_url
    if urlsplit(target).scheme not in ("http", "https"):
        return HttpResponse("Done: you may close this window.", content_type="text/plain")
    separator = "&" if urlsplit(target).query else "?"
    return HttpResponseRedirect(target + separator + urlencode(query))
