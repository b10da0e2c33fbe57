"""Staff roles of the Django admin as groups with the permissions to match.

- support: reads payments, refunds, disputes, webhook deliveries, merchants, payouts,
  approvals and runtime configuration; changes nothing there (so no refund, capture or
  cancel), but owns alerts (acknowledges and resolves them: webhook-failure alerts are
  theirs).
- ops: runs operations: payments admin actions (capture, cancel, refund), routing rules,
  webhook redelivery, payouts, reconciliation; proposes and decides four-eyes approvals
  (including sensitive configuration changes); acknowledges and resolves alerts; publishes
  non-sensitive runtime configuration (the config admin refuses sensitive keys: those go
  through Back office -> Approvals -> "Propose a configuration change").
- risk: the risk app (block lists, reviews, rules) in full; reads payments and merchants.
- compliance: merchants and onboarding (KYB) review, AML/sanctions in the risk app, and the
  audit log; reads payments, ledger and back office (alerts included) and the runtime
  configuration.
- superuser: every permission.

``setup_staff_roles`` is idempotent (``manage.py setup_staff_roles``; seed_demo runs it): each
group's permissions are set to exactly these, so a re-run after an upgrade adds new models'.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

ALL_MODELS = "*"
READ = ("view",)
READ_WRITE = ("view", "change")
FULL = ("view", "add", "change", "delete")


@dataclass(frozen=True, slots=True)
class Grant:
    app_label: str
    models: tuple[str, ...] | str  # model names, or ALL_MODELS
    actions: tuple[str, ...]


ROLE_GRANTS: dict[str, tuple[Grant, ...]] = {
    "support": (
        Grant("payments", ALL_MODELS, READ),
        Grant("merchants", ("merchant",), READ),
        Grant("ledger", ALL_MODELS, READ),
        Grant("backoffice", ("approvalrequest",), READ),
        Grant("backoffice", ("alert",), READ_WRITE),
        Grant("common", ("configdocument", "jobrun"), READ),
    ),
    "ops": (
        Grant("payments", ALL_MODELS, READ_WRITE),
        Grant("merchants", ALL_MODELS, READ),
        Grant("ledger", ALL_MODELS, READ_WRITE),
        Grant("openbanking", ALL_MODELS, READ),
        Grant("backoffice", ALL_MODELS, READ_WRITE),
        Grant("common", ("outboxevent", "jobrun"), READ),
        Grant("common", ("configdocument",), ("view", "add")),
    ),
    "risk": (
        Grant("risk", ALL_MODELS, FULL),
        Grant("payments", ALL_MODELS, READ),
        Grant("merchants", ALL_MODELS, READ),
    ),
    "compliance": (
        Grant("merchants", ALL_MODELS, READ_WRITE),
        Grant("risk", ALL_MODELS, READ_WRITE),
        Grant("common", ("auditevent", "outboxevent", "configdocument"), READ),
        Grant("payments", ALL_MODELS, READ),
        Grant("ledger", ALL_MODELS, READ),
        Grant("backoffice", ALL_MODELS, READ),
    ),
}
SUPERUSER_ROLE = "superuser"
STAFF_ROLES = (*ROLE_GRANTS, SUPERUSER_ROLE)


def _permissions_of(grants: tuple[Grant, ...]) -> list[Permission]:
    query = Q(pk__in=[])
    for grant in grants:
        codenames = Q(codename__regex=rf"^({'|'.join(grant.actions)})_")
        scope = Q(content_type__app_label=grant.app_label)
        if grant.models != ALL_MODELS:
            scope &= Q(content_type__model__in=list(grant.models))
        query |= scope & codenames
    return list(Permission.objects.filter(query))


def setup_staff_roles() -> dict[str, int]:
    """Create or update the role groups; returns role -> number of permissions."""
    counts: dict[str, int] = {}
    with transaction.atomic():
        for role in STAFF_ROLES:
            group, _ = Group.objects.get_or_create(name=role)
            permissions = (
                list(Permission.objects.all())
                if role == SUPERUSER_ROLE
                else _permissions_of(ROLE_GRANTS[role])
            )
            group.permissions.set(permissions)
            counts[role] = len(permissions)
    return counts
