"""The sandbox bank's HTTP face: a WSGI app (standard library only) and a threaded server.

Paths: ``/token`` (OAuth2 client credentials, authorization code + PKCE, refresh),
``/authorize`` (the customer's login, approve / reject page), ``/open-banking/v4.0/aisp/...``
and ``/open-banking/v4.0/pisp/...`` (the OBIE v4.0 operations), ``/__sandbox__/...`` (test
hooks: register a TPP client, delay the next answer to a path).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from apps.openbanking.sandbox.bank import BankError, Consent, Payment, SandboxBank, iso

AISP = "/open-banking/v4.0/aisp"
PISP = "/open-banking/v4.0/pisp"
# The v4.0 error body carries a 4-character ErrorCode; the sandbox's table.
ERROR_CODES = {
    "UK.OBIE.Field.Invalid": "U001",
    "UK.OBIE.Field.Missing": "U002",
    "UK.OBIE.Header.Invalid": "U003",
    "UK.OBIE.Header.Missing": "U004",
    "UK.OBIE.Resource.NotFound": "U005",
    "UK.OBIE.Resource.InvalidConsentStatus": "U006",
    "UK.OBIE.Resource.ConsentMismatch": "U007",
    "UK.OBIE.Resource.InvalidScope": "U008",
    "UK.OBIE.Unsupported.Currency": "U009",
}
StartResponse = Callable[..., Any]
Handler = Callable[["Request", SandboxBank], "Reply"]


class Request:
    def __init__(self, environ: dict[str, Any]) -> None:
        self.method = str(environ["REQUEST_METHOD"]).upper()
        self.path = str(environ.get("PATH_INFO") or "/")
        self.query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING") or "").items()}
        self.headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            self.headers["content-type"] = str(environ["CONTENT_TYPE"])
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.body = environ["wsgi.input"].read(length) if length else b""
        self.params: dict[str, str] = {}

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body or b"null")
        except ValueError:
            raise BankError(400, "UK.OBIE.Field.Invalid", "The body is not JSON.") from None
        if not isinstance(value, dict):
            raise BankError(400, "UK.OBIE.Field.Invalid", "The body must be a JSON object.")
        return value

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8")).items()}


class Reply:
    def __init__(
        self,
        status: int,
        body: Any = None,
        *,
        content_type: str = "application/json; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}

    def encode(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
}


def _self_link(request: Request) -> dict[str, Any]:
    return {"Links": {"Self": f"http://sandbox.bank{request.path}"}, "Meta": {}}


def _amount(value: Any) -> str:
    return f"{value:.2f}"


# -- OAuth2 ----------------------------------------------------------------------------------


def _client_from(request: Request, bank: SandboxBank, form: dict[str, str]) -> Any:
    auth = request.headers.get("authorization", "")
    if auth.startswith("Basic "):
        raw = base64.b64decode(auth[6:]).decode("utf-8")
        client_id, _, secret = raw.partition(":")
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    return bank.authenticate_client(client_id=client_id, client_secret=secret)


def token(request: Request, bank: SandboxBank) -> Reply:
    form = request.form()
    try:
        client = _client_from(request, bank, form)
        grant = form.get("grant_type")
        if grant == "client_credentials":
            return Reply(200, bank.issue_client_token(client=client, scope=form.get("scope", "")))
        if grant == "authorization_code":
            return Reply(
                200,
                bank.exchange_code(
                    client=client,
                    code=form.get("code", ""),
                    redirect_uri=form.get("redirect_uri", ""),
                    code_verifier=form.get("code_verifier", ""),
                ),
            )
        if grant == "refresh_token":
            return Reply(
                200, bank.refresh(client=client, refresh_token=form.get("refresh_token", ""))
            )
        return Reply(400, {"error": "unsupported_grant_type"})
    except BankError as error:
        return Reply(error.status, {"error": error.code, "error_description": error.message})


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Sandbox Bank</title></head>
<body><h1>Sandbox Bank</h1><p>{what}</p>{error}
<form method="post" action="/authorize">{hidden}
<label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password"></label>
{accounts}
<button name="decision" value="approve" type="submit">Approve</button>
<button name="decision" value="reject" type="submit">Reject</button>
</form></body></html>"""


def _describe(consent: Consent) -> str:
    if consent.kind == "payments":
        initiation = consent.body["Data"]["Initiation"]
        amount = initiation["InstructedAmount"]
        creditor = initiation["CreditorAccount"]["Name"]
        return f"Pay {amount['Amount']} {amount['Currency']} to {html.escape(creditor)}."
    permissions = ", ".join(consent.body["Data"]["Permissions"])
    return f"Share your account information ({html.escape(permissions)})."


def _authorize_page(params: dict[str, str], consent: Consent, error: str = "") -> Reply:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
    )
    accounts = ""
    if consent.kind == "payments":
        accounts = (
            '<label>Pay from account (id) <input name="account_id" '
            'placeholder="acc-alice-current"></label>'
        )
    body = _PAGE.format(
        what=_describe(consent),
        error=f'<p role="alert">{html.escape(error)}</p>' if error else "",
        hidden=hidden,
        accounts=accounts,
    )
    return Reply(200, body, content_type="text/html; charset=utf-8")


_AUTHORIZE_PARAMS = (
    "client_id",
    "redirect_uri",
    "state",
    "consent_id",
    "code_challenge",
    "code_challenge_method",
    "scope",
    "response_type",
)


def authorize(request: Request, bank: SandboxBank) -> Reply:
    source = request.query if request.method == "GET" else request.form()
    params = {k: source.get(k, "") for k in _AUTHORIZE_PARAMS}
    if params["response_type"] != "code" or params["code_challenge_method"] != "S256":
        return Reply(
            400,
            "response_type=code and code_challenge_method=S256 are required",
            content_type="text/plain",
        )
    if not params["code_challenge"]:
        return Reply(400, "code_challenge is required (PKCE)", content_type="text/plain")
    try:
        consent = bank.pending_consent_for_authorization(
            client_id=params["client_id"],
            consent_id=params["consent_id"],
            redirect_uri=params["redirect_uri"],
        )
    except BankError as error:
        return Reply(400, error.message, content_type="text/plain")
    if request.method == "GET":
        return _authorize_page(params, consent)
    try:
        customer = bank.login(
            username=source.get("username", ""), password=source.get("password", "")
        )
        code = bank.decide(
            consent=consent,
            customer=customer,
            approve=source.get("decision") == "approve",
            account_id=source.get("account_id") or None,
            redirect_uri=params["redirect_uri"],
            code_challenge=params["code_challenge"],
        )
    except BankError as error:
        return _authorize_page(params, consent, error.message)
    answer = {"state": params["state"]}
    if code is None:
        answer.update(error="access_denied", error_description="The customer rejected the consent.")
    else:
        answer["code"] = code
    separator = "&" if "?" in params["redirect_uri"] else "?"
    return Reply(
        302,
        "",
        content_type="text/plain",
        headers={"Location": params["redirect_uri"] + separator + urlencode(answer)},
    )


# -- OBIE resources --------------------------------------------------------------------------


def _require_headers(request: Request, *, idempotent: bool) -> None:
    if idempotent:
        key = request.headers.get("x-idempotency-key", "")
        if not key or len(key) > 40 or key != key.strip():
            raise BankError(
                400, "UK.OBIE.Header.Missing", "x-idempotency-key is required.", "x-idempotency-key"
            )
        if not request.headers.get("x-jws-signature"):
            raise BankError(
                400, "UK.OBIE.Header.Missing", "x-jws-signature is required.", "x-jws-signature"
            )


def _idempotent(
    request: Request, bank: SandboxBank, client_id: str, create: Callable[[], Reply]
) -> Reply:
    key = request.headers["x-idempotency-key"]
    fingerprint = hashlib.sha256(request.body).hexdigest()
    replayed = bank.replay(client_id=client_id, path=request.path, key=key, fingerprint=fingerprint)
    if replayed is not None:
        return Reply(replayed[0], replayed[1])
    reply = create()
    bank.remember(
        client_id=client_id,
        path=request.path,
        key=key,
        fingerprint=fingerprint,
        status=reply.status,
        body=reply.body,
    )
    return reply


def _account_consent_body(consent: Consent) -> dict[str, Any]:
    data = dict(consent.body["Data"])
    data.update(
        ConsentId=consent.consent_id,
        CreationDateTime=iso(consent.created_at),
        Status=consent.status,
        StatusUpdateDateTime=iso(consent.status_updated_at),
    )
    return {"Data": data, "Risk": {}}


def create_account_consent(request: Request, bank: SandboxBank) -> Reply:
    tok = bank.check_token(
        authorization=request.headers.get("authorization", ""),
        scope="accounts",
        consent_bound=False,
    )
    body = request.json()
    consent = bank.create_account_consent(client_id=tok.client_id, data=body.get("Data") or {})
    return Reply(201, {**_account_consent_body(consent), **_self_link(request)})


def get_account_consent(request: Request, bank: SandboxBank) -> Reply:
    tok = bank.check_token(
        authorization=request.headers.get("authorization", ""),
        scope="accounts",
        consent_bound=False,
    )
    consent = bank.get_consent(
        client_id=tok.client_id, consent_id=request.params["ConsentId"], kind="accounts"
    )
    if request.method == "DELETE":
        bank.revoke_account_consent(client_id=tok.client_id, consent_id=consent.consent_id)
        return Reply(204)
    return Reply(200, {**_account_consent_body(consent), **_self_link(request)})


def _account_body(account: Any) -> dict[str, Any]:
    return {
        "AccountId": account.account_id,
        "Status": "Enabled",
        "Currency": account.currency,
        "AccountCategory": "Personal",
        "AccountTypeCode": "CACC",
        "Nickname": account.nickname,
        "Account": [
            {
                "SchemeName": "UK.OBIE.SortCodeAccountNumber",
                "Identification": account.sort_code_account,
                "Name": account.holder_name,
            }
        ],
    }


def _consent_token(request: Request, bank: SandboxBank, scope: str) -> Any:
    return bank.check_token(
        authorization=request.headers.get("authorization", ""), scope=scope, consent_bound=True
    )


def list_accounts(request: Request, bank: SandboxBank) -> Reply:
    tok = _consent_token(request, bank, "accounts")
    accounts = bank.consented_accounts(token=tok)
    if "AccountId" in request.params:
        accounts = [bank.consented_account(token=tok, account_id=request.params["AccountId"])]
    return Reply(
        200, {"Data": {"Account": [_account_body(a) for a in accounts]}, **_self_link(request)}
    )


def balances(request: Request, bank: SandboxBank) -> Reply:
    tok = _consent_token(request, bank, "accounts")
    account = bank.consented_account(token=tok, account_id=request.params["AccountId"])
    balance = {
        "AccountId": account.account_id,
        "CreditDebitIndicator": "Credit" if account.balance >= 0 else "Debit",
        "Type": "ITAV",
        "DateTime": iso(datetime.now(tz=UTC)),
        "Amount": {"Amount": _amount(abs(account.balance)), "Currency": account.currency},
    }
    return Reply(200, {"Data": {"Balance": [balance]}, **_self_link(request)})


def transactions(request: Request, bank: SandboxBank) -> Reply:
    tok = _consent_token(request, bank, "accounts")
    account = bank.consented_account(token=tok, account_id=request.params["AccountId"])
    rows = []
    for txn in reversed(account.transactions):
        row = {k: v for k, v in txn.items() if k != "Amount"}
        row["AccountId"] = account.account_id
        row["Amount"] = {"Amount": _amount(Decimal(txn["Amount"])), "Currency": account.currency}
        rows.append(row)
    return Reply(200, {"Data": {"Transaction": rows}, **_self_link(request)})


def _payment_consent_body(consent: Consent) -> dict[str, Any]:
    data = dict(consent.body["Data"])
    data.update(
        ConsentId=consent.consent_id,
        CreationDateTime=iso(consent.created_at),
        Status=consent.status,
        StatusUpdateDateTime=iso(consent.status_updated_at),
    )
    return {"Data": data, "Risk": consent.body.get("Risk", {})}


def create_payment_consent(request: Request, bank: SandboxBank) -> Reply:
    tok = bank.check_token(
        authorization=request.headers.get("authorization", ""),
        scope="payments",
        consent_bound=False,
    )
    _require_headers(request, idempotent=True)
    body = request.json()
    if not isinstance(body.get("Data"), dict) or "Initiation" not in body["Data"]:
        raise BankError(
            400, "UK.OBIE.Field.Missing", "Data.Initiation is required.", "Data.Initiation"
        )

    def create() -> Reply:
        consent = bank.create_payment_consent(client_id=tok.client_id, body=body)
        return Reply(201, {**_payment_consent_body(consent), **_self_link(request)})

    return _idempotent(request, bank, tok.client_id, create)


def get_payment_consent(request: Request, bank: SandboxBank) -> Reply:
    tok = bank.check_token(
        authorization=request.headers.get("authorization", ""),
        scope="payments",
        consent_bound=False,
    )
    consent = bank.get_consent(
        client_id=tok.client_id, consent_id=request.params["ConsentId"], kind="payments"
    )
    return Reply(200, {**_payment_consent_body(consent), **_self_link(request)})


def funds_confirmation(request: Request, bank: SandboxBank) -> Reply:
    tok = _consent_token(request, bank, "payments")
    available = bank.funds_available(token=tok, consent_id=request.params["ConsentId"])
    data = {
        "FundsAvailableResult": {
            "FundsAvailableDateTime": iso(datetime.now(tz=UTC)),
            "FundsAvailable": available,
        }
    }
    return Reply(200, {"Data": data, **_self_link(request)})


def _payment_body(payment: Payment) -> dict[str, Any]:
    body: dict[str, Any] = {
        "DomesticPaymentId": payment.payment_id,
        "ConsentId": payment.consent_id,
        "CreationDateTime": iso(payment.created_at),
        "Status": payment.status,
        "StatusUpdateDateTime": iso(payment.status_updated_at),
        "Initiation": payment.initiation,
    }
    if payment.refund_account is not None:  # the consent asked ReadRefundAccount "Yes"
        body["Refund"] = {"Account": dict(payment.refund_account)}
    return body


def create_payment(request: Request, bank: SandboxBank) -> Reply:
    tok = _consent_token(request, bank, "payments")
    _require_headers(request, idempotent=True)
    body = request.json()
    if not isinstance(body.get("Data"), dict) or "ConsentId" not in body["Data"]:
        raise BankError(
            400, "UK.OBIE.Field.Missing", "Data.ConsentId is required.", "Data.ConsentId"
        )

    def create() -> Reply:
        payment = bank.create_payment(token=tok, body=body)
        return Reply(201, {"Data": _payment_body(payment), **_self_link(request)})

    return _idempotent(request, bank, tok.client_id, create)


def get_payment(request: Request, bank: SandboxBank) -> Reply:
    tok = bank.check_token(
        authorization=request.headers.get("authorization", ""),
        scope="payments",
        consent_bound=False,
    )
    payment = bank.get_payment(
        client_id=tok.client_id, payment_id=request.params["DomesticPaymentId"]
    )
    return Reply(200, {"Data": _payment_body(payment), **_self_link(request)})


def payment_details(request: Request, bank: SandboxBank) -> Reply:
    tok = bank.check_token(
        authorization=request.headers.get("authorization", ""),
        scope="payments",
        consent_bound=False,
    )
    payment = bank.get_payment(
        client_id=tok.client_id, payment_id=request.params["DomesticPaymentId"]
    )
    status: dict[str, Any] = {
        "PaymentTransactionId": payment.payment_id,
        "Status": payment.status,
        "StatusUpdateDateTime": iso(payment.status_updated_at),
    }
    if payment.status == "RJCT":
        status["StatusDetail"] = {
            "Status": "RJCT",
            "StatusReason": "AM04",
            "StatusReasonDescription": "Insufficient funds",
        }
    return Reply(200, {"Data": {"PaymentStatus": [status]}, **_self_link(request)})


# -- test hooks ------------------------------------------------------------------------------


def register_client(request: Request, bank: SandboxBank) -> Reply:
    body = request.json()
    bank.register_client(
        client_id=str(body["client_id"]),
        client_secret=str(body["client_secret"]),
        redirect_uris=tuple(str(u) for u in body.get("redirect_uris", [])),
    )
    return Reply(201, {"client_id": body["client_id"]})


def add_delay(request: Request, bank: SandboxBank) -> Reply:
    body = request.json()
    with bank._lock:
        bank.delays.append((str(body["path"]), float(body["seconds"])))
    return Reply(201, {"ok": True})


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/token", token),
    ("GET", "/authorize", authorize),
    ("POST", "/authorize", authorize),
    ("POST", AISP + "/account-access-consents", create_account_consent),
    ("GET", AISP + "/account-access-consents/{ConsentId}", get_account_consent),
    ("DELETE", AISP + "/account-access-consents/{ConsentId}", get_account_consent),
    ("GET", AISP + "/accounts", list_accounts),
    ("GET", AISP + "/accounts/{AccountId}", list_accounts),
    ("GET", AISP + "/accounts/{AccountId}/balances", balances),
    ("GET", AISP + "/accounts/{AccountId}/transactions", transactions),
    ("POST", PISP + "/domestic-payment-consents", create_payment_consent),
    ("GET", PISP + "/domestic-payment-consents/{ConsentId}", get_payment_consent),
    ("GET", PISP + "/domestic-payment-consents/{ConsentId}/funds-confirmation", funds_confirmation),
    ("POST", PISP + "/domestic-payments", create_payment),
    ("GET", PISP + "/domestic-payments/{DomesticPaymentId}", get_payment),
    ("GET", PISP + "/domestic-payments/{DomesticPaymentId}/payment-details", payment_details),
    ("POST", "/__sandbox__/clients", register_client),
    ("POST", "/__sandbox__/delays", add_delay),
]
_COMPILED = [
    (method, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"), handler)
    for method, template, handler in ROUTES
]


def _error_reply(error: BankError, interaction_id: str) -> Reply:
    if error.status in (401, 404, 405):
        # v4.0 documents these without a body
        return Reply(error.status, None)
    item: dict[str, Any] = {
        "ErrorCode": ERROR_CODES.get(error.code, "U000"),
        "Message": error.message[:500],
    }
    if error.path:
        item["Path"] = error.path
    return Reply(
        error.status,
        {
            "Id": interaction_id[:40],
            "Code": error.code[:40],
            "Message": error.message[:500],
            "Errors": [item],
        },
    )


SIGNING_KEY = b"sandbox-bank-signing-key"


def detached_signature(payload: bytes) -> str:
    """A detached JWS (``header..signature``, HS256 under the sandbox's own key): the shape
    of the v4.0 ``x-jws-signature`` header; a real bank signs with its directory certificate."""
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JOSE"}').rstrip(b"=")
    encoded = base64.urlsafe_b64encode(payload).rstrip(b"=")
    mac = hmac.new(SIGNING_KEY, header + b"." + encoded, hashlib.sha256).digest()
    return f"{header.decode()}..{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


class SandboxBankApp:
    def __init__(self, bank: SandboxBank) -> None:
        self.bank = bank

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        interaction_id = request.headers.get("x-fapi-interaction-id") or str(uuid.uuid4())
        reply = self.dispatch(request, interaction_id)
        payload = reply.encode()
        headers = {
            "Content-Type": reply.content_type,
            "Content-Length": str(len(payload)),
            "x-fapi-interaction-id": interaction_id,
            **reply.headers,
        }
        if payload and request.path.startswith("/open-banking/"):
            headers["x-jws-signature"] = detached_signature(payload)
        with self.bank._lock:
            self.bank.requests.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "headers": request.headers,
                    "body": request.body,
                    "status": reply.status,
                    "reply": reply.body,
                    "reply_headers": headers,
                }
            )
        delay = self.bank.take_delay(path=request.path)
        if delay:
            time.sleep(delay)
        status = f"{reply.status} {_STATUS_TEXT.get(reply.status, 'Status')}"
        start_response(status, list(headers.items()))
        return [payload]

    def dispatch(self, request: Request, interaction_id: str) -> Reply:
        allowed = False
        for method, pattern, handler in _COMPILED:
            match = pattern.match(request.path)
            if match is None:
                continue
            allowed = True
            if method != request.method:
                continue
            request.params = match.groupdict()
            try:
                return handler(request, self.bank)
            except BankError as error:
                return _error_reply(error, interaction_id)
            except (KeyError, TypeError, ValueError) as error:
                return _error_reply(
                    BankError(400, "UK.OBIE.Field.Invalid", f"Malformed request: {error}"),
                    interaction_id,
                )
        if allowed:
            return Reply(405, None)
        return _error_reply(
            BankError(404, "UK.OBIE.Resource.NotFound", "No such path."), interaction_id
        )


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def make_sandbox_server(*, bank: SandboxBank, port: int = 0, quiet: bool = True) -> WSGIServer:
    """A threaded HTTP server bound to 127.0.0.1 only (``port=0``: any free port)."""
    handler = _QuietHandler if quiet else WSGIRequestHandler
    return make_server(
        "127.0.0.1",
        port,
        SandboxBankApp(bank),
        server_class=_ThreadingServer,
        handler_class=handler,
    )


def serve_in_thread(*, bank: SandboxBank) -> tuple[WSGIServer, threading.Thread, str]:
    server = make_sandbox_server(bank=bank)
    thread = threading.Thread(target=server.serve_forever, name="sandbox-bank", daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{server.server_port}"
