"""The merchant lifecycle: statuses and the explicit transition table. Pure; no database.

    applied ──start_review──▶ in_review ──approve──▶ active ◀──reinstate── suspended
       ▲                          │                     │                      ▲
       └──request_information─────┤                     └────────suspend───────┘
                                  └──reject──▶ rejected (final)

Every status change goes through :func:`check_merchant_transition` (called by the services),
so a change the table does not list is refused with a StateError.
"""

from __future__ import annotations

from enum import StrEnum

from apps.merchants.errors import InvalidMerchantTransitionError
from apps.merchants.models import MerchantStatus


class MerchantAction(StrEnum):
    START_REVIEW = "start_review"
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_INFORMATION = "request_information"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"


# (from status, action) → to status. The whole lifecycle, and nothing else.
MERCHANT_TRANSITIONS: dict[tuple[MerchantStatus, MerchantAction], MerchantStatus] = {
    (MerchantStatus.APPLIED, MerchantAction.START_REVIEW): MerchantStatus.IN_REVIEW,
    (MerchantStatus.IN_REVIEW, MerchantAction.APPROVE): MerchantStatus.ACTIVE,
    (MerchantStatus.IN_REVIEW, MerchantAction.REJECT): MerchantStatus.REJECTED,
    (MerchantStatus.IN_REVIEW, MerchantAction.REQUEST_INFORMATION): MerchantStatus.APPLIED,
    (MerchantStatus.ACTIVE, MerchantAction.SUSPEND): MerchantStatus.SUSPENDED,
    (MerchantStatus.SUSPENDED, MerchantAction.REINSTATE): MerchantStatus.ACTIVE,
}

# Actions whose reason is shown to the applicant and must therefore be given.
ACTIONS_REQUIRING_A_REASON = frozenset(
    {
        MerchantAction.REJECT,
        MerchantAction.REQUEST_INFORMATION,
        MerchantAction.SUSPEND,
        MerchantAction.REINSTATE,
    }
)


def check_merchant_transition(*, current: str, action: str) -> MerchantStatus:
    """The status ``action`` leads to from ``current``; raises InvalidMerchantTransitionError
    if the table has no such transition."""
    try:
        key = (MerchantStatus(current), MerchantAction(action))
    except ValueError:
        raise InvalidMerchantTransitionError(
            message=f"Unknown status or action: {current!r}, {action!r}.", param="status"
        ) from None
    target = MERCHANT_TRANSITIONS.get(key)
    if target is None:
        raise InvalidMerchantTransitionError(
            message=f"A merchant that is {current} cannot be given the action {action}.",
            param="status",
        )
    return target


def allowed_merchant_actions(*, current: str) -> list[MerchantAction]:
    return [action for (status, action) in MERCHANT_TRANSITIONS if status == current]
