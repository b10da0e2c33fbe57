"""Emails to merchants, sent after the change they describe has committed."""

from __future__ import annotations

import logging
from typing import Any

from django.core.mail import send_mail
from django.template.loader import render_to_string

from apps.common.transactions import call_on_commit
from apps.merchants.models import MemberRole, Merchant

logger = logging.getLogger(__name__)


def get_merchant_contact_emails(*, merchant: Merchant) -> list[str]:
    """The owners' login emails, then the support address; de-duplicated, order kept."""
    emails = list(
        merchant.memberships.filter(role=MemberRole.OWNER, user__is_active=True)
        .order_by("id")
        .values_list("user__email", flat=True)
    )
    emails.append(merchant.support_email)
    seen: dict[str, None] = {}
    for email in emails:
        if email and email.lower() not in {known.lower() for known in seen}:
            seen[email] = None
    return list(seen)


def send_email_on_commit(*, recipients: list[str], subject: str, body: str) -> None:
    """Send once the surrounding transaction commits (never for a rolled-back change). A
    failing mail server is logged, not raised: the change itself has already happened."""
    if not recipients:
        return
    call_on_commit(send_mail, subject, body, None, recipients, fail_silently=False)


def render_merchant_email(*, name: str, context: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) from ``templates/emails/merchants/<name>_subject.txt`` and
    ``<name>_body.txt`` (plain text, no HTML escaping; the subject on one line)."""
    subject = render_to_string(f"emails/merchants/{name}_subject.txt", context)
    body = render_to_string(f"emails/merchants/{name}_body.txt", context)
    return " ".join(subject.split()), body


def send_merchant_email_on_commit(
    *, recipients: list[str], name: str, context: dict[str, Any]
) -> None:
    subject, body = render_merchant_email(name=name, context=context)
    send_email_on_commit(recipients=recipients, subject=subject, body=body)
