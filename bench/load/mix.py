"""What the load test plays and what it expects: cards, request names and mix categories.

Shared by the locustfile (the locust process) and the runner (the Django process), so this
module imports neither Django nor locust. Every request the mix sends is named after what it
expects back; a response that is anything else is an *unexpected error*.

Expected outcomes that are not 2xx are part of the mix, named ``(declined)``: a card the
simulator declines answers **402** ``card_declined`` with the card's ``decline_code``
(the API and the hosted page alike), and a failed challenge on the hosted page answers 402.
They are counted as requests, never as errors.
"""

from __future__ import annotations

from dataclasses import dataclass

PLAN_VARIABLE = "PAYMENTHUB_LOAD_PLAN"  # path of the JSON plan the runner writes for locust


@dataclass(frozen=True, slots=True)
class TestCard:
    number: str
    outcome: str  # succeeds | declined | requires_action
    decline_code: str = ""

    @property
    def cvc(self) -> str:
        return "1234" if self.number.startswith(("34", "37")) else "123"


# ../shared/data/test-cards.csv, the simulator's behaviour per card. Left out on purpose:
# the dispute card (0259), the card whose refunds fail later (5126), the risk cards
# (blocked, review) and the invalid/processing-error ones: they test other things.
SUCCEEDING_CARDS = tuple(
    TestCard(number, "succeeds")
    for number in (
        "4242424242424242",
        "4000056655665556",
        "5555555555554444",
        "2223003122003222",
        "5200828282828210",
        "5105105105105100",
        "378282246310005",
        "6011111111111117",
        "3566002020360505",
        "4000000000000077",
    )
)
DECLINED_CARDS = tuple(
    TestCard(number, "declined", code)
    for number, code in (
        ("4000000000000002", "generic_decline"),
        ("4000000000009995", "insufficient_funds"),
        ("4000000000009987", "lost_card"),
        ("4000000000009979", "stolen_card"),
        ("4000000000000069", "expired_card"),
        ("4000000000000127", "incorrect_cvc"),
        ("4000000000006975", "card_velocity_exceeded"),
    )
)
# cards that need the shopper's authentication, and what follows an approved challenge
CHALLENGE_CARDS = tuple(
    TestCard(number, "requires_action", code)
    for number, code in (
        ("4000002760003184", ""),
        ("4000002500003155", ""),
        ("4000000000003220", ""),
        ("4000008400001629", "card_declined"),
        ("4000008260003178", "insufficient_funds"),
    )
)
# the API mix of confirmed card payments: ~75 % succeed, ~15 % decline, ~10 % challenge
CARD_OUTCOME_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("succeeds", 75),
    ("declined", 15),
    ("requires_action", 10),
)


# Request names (locust's "Name" column): one per expected outcome.
CHECKOUT_CREATE = "POST /v1/checkout/sessions"
CHECKOUT_RETRIEVE = "GET /v1/checkout/sessions/[id]"
CHECKOUT_PAGE = "GET /pay/[token]"
CHECKOUT_PAY = "POST /pay/[token]/pay"
CHECKOUT_PAY_DECLINED = "POST /pay/[token]/pay (declined)"
CHECKOUT_CHALLENGE = "POST /pay/[token]/challenge"
CHECKOUT_CHALLENGE_DECLINED = "POST /pay/[token]/challenge (declined)"
TOKEN_CREATE = "POST /v1/tokens"  # noqa: S105 - a request name, not a secret
PAYMENT_SUCCEEDED = "POST /v1/payments (succeeds)"
PAYMENT_DECLINED = "POST /v1/payments (declined)"
PAYMENT_CHALLENGED = "POST /v1/payments (requires_action)"
PAYMENT_MANUAL = "POST /v1/payments (manual capture)"
PAYMENT_CAPTURE = "POST /v1/payments/[id]/capture"
PAYMENT_CANCEL = "POST /v1/payments/[id]/cancel"
REFUND_PARTIAL = "POST /v1/refunds (partial)"
REFUND_FULL = "POST /v1/refunds (rest)"
REFUND_RETRIEVE = "GET /v1/refunds/[id]"
PAYMENT_LIST = "GET /v1/payments?status&currency"
PAYMENT_LIST_NEXT = "GET /v1/payments?starting_after"
PAYMENT_RETRIEVE = "GET /v1/payments/[id]"
EVENT_LIST = "GET /v1/events?type"
EVENT_RETRIEVE = "GET /v1/events/[id]"

# The categories of the requirement, each with the request names that make it up: a run in
# which one of them saw no request did not play the mix (the runner fails it).
MIX_CATEGORIES: dict[str, tuple[str, ...]] = {
    "checkout sessions": (CHECKOUT_CREATE, CHECKOUT_PAGE, CHECKOUT_PAY),
    "card payments": (TOKEN_CREATE, PAYMENT_SUCCEEDED),
    "declines": (PAYMENT_DECLINED, CHECKOUT_PAY_DECLINED),
    "challenges": (PAYMENT_CHALLENGED, CHECKOUT_CHALLENGE),
    "captures": (PAYMENT_MANUAL, PAYMENT_CAPTURE),
    "refunds": (REFUND_PARTIAL, REFUND_FULL),
    "lists": (PAYMENT_LIST, PAYMENT_LIST_NEXT, EVENT_LIST),
    "retrieves": (PAYMENT_RETRIEVE, REFUND_RETRIEVE, EVENT_RETRIEVE, CHECKOUT_RETRIEVE),
}
WEBHOOKS_CATEGORY = "webhooks"
