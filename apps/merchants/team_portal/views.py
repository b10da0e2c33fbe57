"""Team pages of the merchant portal: members and invitations, and the acceptance page.

Views only translate HTTP to service calls: who may do what is decided by the services
(:mod:`apps.merchants.team`, the permission matrix). The merchant is always one the signed-in
user belongs to (``?merchant=`` / the session choose among the user's own memberships; an id
the user is not a member of is a 404), and team changes need a recent sign-in (step-up).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from apps.common.errors import NotFoundError, PaymentHubError, PermissionDeniedError
from apps.merchants.errors import InvitationInvalidError
from apps.merchants.identity.session_state import mark_password_step_done
from apps.merchants.identity.step_up import require_recent_authentication
from apps.merchants.models import MemberRole
from apps.merchants.permissions import MerchantPermission, member_has_permission
from apps.merchants.selectors import list_merchant_ids_for_user, list_merchant_members
from apps.merchants.team import (
    Actor,
    accept_invitation,
    change_member_role,
    create_invitation,
    get_pending_invitation,
    list_pending_invitations,
    remove_merchant_member,
    revoke_invitation,
)

CURRENT_MERCHANT_SESSION_KEY = "portal.current_merchant"
ROLE_CHOICES = MemberRole.choices


def get_current_merchant_id(request: HttpRequest) -> str:
    """The merchant the signed-in user is working on: ``?merchant=`` or the session's choice
    if the user is a member of it, else the user's first merchant; 404 for a non-member."""
    memberships = list_merchant_ids_for_user(user_id=int(request.user.pk or 0))
    if not memberships:
        raise Http404("You are not a member of any merchant.")
    wanted = request.GET.get("merchant") or request.session.get(CURRENT_MERCHANT_SESSION_KEY)
    if wanted and wanted not in memberships:
        raise Http404("No such merchant.")
    current = wanted or memberships[0]
    request.session[CURRENT_MERCHANT_SESSION_KEY] = current
    return current


def _actor(request: HttpRequest) -> Actor:
    return Actor(actor_type="user", actor_id=str(request.user.pk))


def _team_url(merchant_id: str) -> str:
    return f"{reverse('team:members')}?{urlencode({'merchant': merchant_id})}"


def _run(request: HttpRequest, merchant_id: str, call: object) -> HttpResponse:
    """Run a team service call; not-found is a 404, a refused role is a 403, any other
    refusal is shown on the team page. Always redirects back to it."""
    try:
        message = call()  # type: ignore[operator]
    except NotFoundError:
        raise Http404("No such team member or invitation.") from None
    except PermissionDeniedError as exc:
        return render(request, "portal/team/forbidden.html", {"message": exc.message}, status=403)
    except PaymentHubError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, str(message))
    return HttpResponseRedirect(_team_url(merchant_id))


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)


@login_required
@require_http_methods(["GET"])
def team_page(request: HttpRequest) -> HttpResponse:
    merchant_id = get_current_merchant_id(request)
    can_manage = member_has_permission(
        user_id=int(request.user.pk or 0),
        merchant_id=merchant_id,
        permission=MerchantPermission.MANAGE_TEAM,
    )
    invitations = list_pending_invitations(merchant_id=merchant_id) if can_manage else []
    return render(
        request,
        "portal/team/members.html",
        {
            "merchant_id": merchant_id,
            "members": list_merchant_members(merchant_id=merchant_id),
            "invitations": invitations,
            "can_manage": can_manage,
            "invite_form": InviteForm(),
            "roles": ROLE_CHOICES,
            "me": request.user.pk,
        },
    )


@login_required
@require_POST
@require_recent_authentication()
def invite_member(request: HttpRequest) -> HttpResponse:
    merchant_id = get_current_merchant_id(request)
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a valid email and choose a role.")
        return HttpResponseRedirect(_team_url(merchant_id))

    def call() -> str:
        create_invitation(
            merchant_id=merchant_id,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            actor=_actor(request),
        )
        return f"Invitation sent to {form.cleaned_data['email']}."

    return _run(request, merchant_id, call)


@login_required
@require_POST
@require_recent_authentication()
def change_role(request: HttpRequest, user_id: int) -> HttpResponse:
    merchant_id = get_current_merchant_id(request)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
        return HttpResponseRedirect(_team_url(merchant_id))

    def call() -> str:
        change_member_role(
            merchant_id=merchant_id,
            user_id=user_id,
            role=form.cleaned_data["role"],
            actor=_actor(request),
        )
        return "Role changed."

    return _run(request, merchant_id, call)


@login_required
@require_POST
@require_recent_authentication()
def remove_member(request: HttpRequest, user_id: int) -> HttpResponse:
    merchant_id = get_current_merchant_id(request)

    def call() -> str:
        remove_merchant_member(merchant_id=merchant_id, user_id=user_id, actor=_actor(request))
        return "Member removed; their sessions were ended."

    response = _run(request, merchant_id, call)
    if user_id == request.user.pk and response.status_code == 302:
        return HttpResponseRedirect(settings.LOGIN_URL)  # removed oneself: signed out
    return response


@login_required
@require_POST
@require_recent_authentication()
def revoke_pending_invitation(request: HttpRequest, invitation_id: str) -> HttpResponse:
    merchant_id = get_current_merchant_id(request)

    def call() -> str:
        try:
            revoke_invitation(
                merchant_id=merchant_id, invitation_id=invitation_id, actor=_actor(request)
            )
        except InvitationInvalidError:
            raise NotFoundError() from None
        return "Invitation revoked."

    return _run(request, merchant_id, call)


class NewAccountForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput, min_length=12, max_length=200)
    password_again = forms.CharField(widget=forms.PasswordInput, max_length=200)

    def clean(self) -> dict[str, object]:
        cleaned: dict[str, object] = super().clean() or {}
        if cleaned.get("password") != cleaned.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return cleaned


def _invalid_invitation(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/team/invitation_invalid.html", status=404)


@sensitive_variables("token")
@sensitive_post_parameters("password", "password_again")
@require_http_methods(["GET", "POST"])
def accept_invitation_page(request: HttpRequest, token: str) -> HttpResponse:
    """An existing signed-in user accepts with one click; a new person sets a password (then
    the identity middleware makes them enrol a second factor)."""
    try:
        pending = get_pending_invitation(token=token)
    except InvitationInvalidError:
        return _invalid_invitation(request)
    user = request.user
    signed_in_as_invitee = (
        user.is_authenticated and (user.email or "").lower() == pending.summary.email
    )
    form = NewAccountForm(request.POST or None) if not pending.has_account else None
    error = ""
    if request.method == "POST":
        try:
            if signed_in_as_invitee:
                accept_invitation(token=token, signed_in_user_id=int(user.pk or 0))
                request.session[CURRENT_MERCHANT_SESSION_KEY] = pending.summary.merchant_id
                messages.success(request, f"You joined {pending.merchant_name}.")
                return HttpResponseRedirect(_team_url(pending.summary.merchant_id))
            if form is not None and not user.is_authenticated and form.is_valid():
                accept_invitation(token=token, password=form.cleaned_data["password"])
                new_user = get_user_model().objects.get(username__iexact=pending.summary.email)
                login(request, new_user, backend="django.contrib.auth.backends.ModelBackend")
                mark_password_step_done(request)  # second factor (enrolment) comes next
                return HttpResponseRedirect(settings.LOGIN_REDIRECT_URL)
        except InvitationInvalidError as exc:
            if exc.message == InvitationInvalidError.default_message:
                return _invalid_invitation(request)
            error = exc.message
        except PaymentHubError as exc:
            error = exc.message
    return render(
        request,
        "portal/team/accept_invitation.html",
        {
            "pending": pending,
            "form": form,
            "error": error,
            "signed_in_as_invitee": signed_in_as_invitee,
            "login_url": f"{settings.LOGIN_URL}?{urlencode({'next': request.path})}",
        },
        status=400 if request.method == "POST" else 200,
    )
