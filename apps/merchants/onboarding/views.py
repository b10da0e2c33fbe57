"""Portal pages of onboarding: self-serve sign-up and the merchant's home page."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from apps.common.errors import InvalidRequestError
from apps.common.session_secrets import open_session_secret, seal_session_secret
from apps.merchants.api_keys import list_api_keys
from apps.merchants.contracts import BeneficialOwnerInput
from apps.merchants.identity.origin import get_request_origin
from apps.merchants.identity.services import record_login_succeeded
from apps.merchants.identity.session_state import mark_password_step_done
from apps.merchants.models import MerchantStatus
from apps.merchants.onboarding.forms import (
    PARAM_TO_FIELD,
    BeneficialOwnerFormSet,
    KybDocumentFormSet,
    SignUpForm,
)
from apps.merchants.onboarding.services import sign_up_merchant
from apps.merchants.selectors import get_merchant_summary, list_merchant_ids_for_user
from apps.merchants.services import KybUpload

# The test keys made at sign-up wait here until the portal home shows them, once (only their
# hashes are stored anywhere else).
NEW_TEST_KEYS = "onboarding.new_test_keys"
AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"

STATUS_EXPLANATIONS = {
    MerchantStatus.APPLIED: "We received your application and will start the review soon.",
    MerchantStatus.IN_REVIEW: "Our team is reviewing your application.",
    MerchantStatus.ACTIVE: "Your account is active: you can take live payments.",
    MerchantStatus.REJECTED: "Your application was not approved.",
    MerchantStatus.SUSPENDED: "Your account is suspended; contact support.",
}


@sensitive_post_parameters("password", "password_confirmation")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def signup_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return HttpResponseRedirect(reverse("onboarding:home"))
    data = request.POST if request.method == "POST" else None
    files = request.FILES if request.method == "POST" else None
    form = SignUpForm(data)
    owners = BeneficialOwnerFormSet(data, prefix="owners")
    documents = KybDocumentFormSet(data, files, prefix="documents")
    if request.method == "POST":
        forms_valid = all([form.is_valid(), owners.is_valid(), documents.is_valid()])
        if forms_valid:
            try:
                result = sign_up_merchant(
                    email=form.cleaned_data["email"],
                    password=form.cleaned_data["password"],
                    legal_name=form.cleaned_data["legal_name"],
                    trading_name=form.cleaned_data["trading_name"],
                    country=form.cleaned_data["country"],
                    settlement_currency=form.cleaned_data["settlement_currency"],
                    support_email=form.cleaned_data["support_email"],
                    registration_number=form.cleaned_data["registration_number"],
                    vat_id=form.cleaned_data["vat_id"],
                    mcc=form.cleaned_data["mcc"],
                    website=form.cleaned_data["website"],
                    expected_monthly_volume=form.cleaned_data["expected_monthly_volume"],
                    beneficial_owners=[
                        BeneficialOwnerInput(
                            full_name=owner["full_name"],
                            date_of_birth=owner["date_of_birth"],
                            nationality=owner["nationality"],
                            ownership_percent=owner["ownership_percent"],
                        )
                        for owner in owners.cleaned_data
                        if owner
                    ],
                    documents=[
                        KybUpload(document_type=document["document_type"], upload=document["file"])
                        for document in documents.cleaned_data
                        if document.get("file")
                    ],
                    ip_address=get_request_origin(request).ip_address,
                )
            except InvalidRequestError as exc:
                _show_service_error(form=form, error=exc)
            else:
                _sign_in_password_only(request, user_id=result.user_id)
                request.session[NEW_TEST_KEYS] = {  # the secret key only sealed
                    "sealed_secret": seal_session_secret(secret=result.test_secret_key.secret),
                    "publishable": result.test_publishable_key.secret,
                }
                return HttpResponseRedirect(reverse("identity:two_factor_setup"))
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "portal/onboarding/signup.html",
        {"form": form, "owners": owners, "documents": documents},
        status=status,
    )


def _show_service_error(*, form: SignUpForm, error: InvalidRequestError) -> None:
    field = PARAM_TO_FIELD.get(error.param or "")
    if error.param and error.param.startswith("owner"):
        form.add_error(None, f"Beneficial owner: {error.message}")
    elif error.param == "file" or error.param == "document_type":
        form.add_error(None, f"Documents: {error.message}")
    else:
        form.add_error(field, error.message)


def _sign_in_password_only(request: HttpRequest, *, user_id: int) -> None:
    """The new user has proved the password only: next comes authenticator enrolment."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(pk=user_id)
    login(request, user, backend=AUTH_BACKEND)
    mark_password_step_done(request)
    record_login_succeeded(
        user_id=user_id, channel="signup", stage="password", origin=get_request_origin(request)
    )


@never_cache
@require_http_methods(["GET"])
def home_view(request: HttpRequest) -> HttpResponse:
    """The merchant's status, what test and live mode allow now, and the test keys.

    Signed-in users only; the second-factor middleware has already required the second
    factor for every /portal/ page.
    """
    if not request.user.is_authenticated:
        return HttpResponseRedirect(f"{settings.LOGIN_URL}?next={request.path}")
    merchants = [
        get_merchant_summary(merchant_id=merchant_id)
        for merchant_id in list_merchant_ids_for_user(user_id=request.user.pk)
    ]
    waiting = request.session.pop(NEW_TEST_KEYS, None) or {}
    new_keys = {}
    secret = open_session_secret(sealed=waiting.get("sealed_secret"))
    if secret is not None:
        new_keys = {"secret": secret, "publishable": str(waiting.get("publishable", ""))}
    entries = [
        {
            "merchant": merchant,
            "status_label": MerchantStatus(merchant.status).label,
            "explanation": STATUS_EXPLANATIONS.get(MerchantStatus(merchant.status), ""),
            "live_enabled": merchant.status == MerchantStatus.ACTIVE,
            "test_keys": [
                key
                for key in list_api_keys(merchant_id=merchant.public_id)
                if key.mode == "test" and key.revoked_at is None
            ],
        }
        for merchant in merchants
    ]
    return render(
        request,
        "portal/onboarding/home.html",
        {
            "entries": entries,
            "new_secret_key": new_keys.get("secret"),
            "new_publishable_key": new_keys.get("publishable"),
        },
    )
