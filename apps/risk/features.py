"""The features of an assessment: what rules and the model see.

Built from the payment attempt (:class:`PaymentRiskInput`) and the velocity and history
signals read from Redis in one round trip (:mod:`apps.risk.velocity`). The same mapping is
stored with every decision, so a draft rule can be backtested over past decisions and a
model trained on them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.risk.contracts import PaymentRiskInput
from apps.risk.velocity import VelocitySignals

# name -> what it is (shown in the admin's rule editor; the rule language accepts only these)
FEATURES: dict[str, str] = {
    # payment
    "amount_minor": "Amount in minor units",
    "currency": "ISO currency, upper case",
    "mode": "test or live",
    "merchant_id": "The merchant's public id",
    "is_round_amount": "Whole hundreds of the major unit (e.g. 500.00)",
    "hour_utc": "Hour of day (UTC), 0-23",
    "day_of_week": "0 = Monday ... 6 = Sunday",
    # card
    "card_bin": "First 6 digits",
    "card_brand": "visa, mastercard, ...",
    "card_country": "Issuing country (ISO alpha-2) when known",
    "card_age_days": "Days since the card was first seen on the platform (0 = new)",
    "is_new_card": "First time this card is seen on the platform",
    # customer
    "customer_email": "Lower-cased e-mail",
    "email_domain": "The e-mail's domain",
    "is_disposable_email": "The domain is a known disposable-mail provider",
    "customer_payment_count": "Earlier payments with this e-mail on the platform",
    "amount_to_customer_avg": "Amount / this e-mail's average amount (0 = no history)",
    # device / IP
    "ip_address": "The payer's IP address",
    "ip_country": "The IP's country (ISO alpha-2) when known",
    "device_id": "The device fingerprint when known",
    "country_mismatch": "Card country and IP country both known and different",
    # merchant
    "amount_to_merchant_avg": "Amount / the merchant's average amount (0 = no history)",
    # velocity (sliding windows, this attempt included)
    "card_count_1h": "Attempts with this card in the last hour",
    "card_count_24h": "Attempts with this card in the last 24 hours",
    "card_amount_24h": "Amount attempted with this card in the last 24 hours",
    "email_count_1h": "Attempts with this e-mail in the last hour",
    "email_count_24h": "Attempts with this e-mail in the last 24 hours",
    "email_amount_24h": "Amount attempted with this e-mail in the last 24 hours",
    "ip_count_1h": "Attempts from this IP in the last hour",
    "ip_count_24h": "Attempts from this IP in the last 24 hours",
    "ip_amount_24h": "Amount attempted from this IP in the last 24 hours",
    "merchant_count_1h": "Attempts at this merchant in the last hour",
    "merchant_amount_1h": "Amount attempted at this merchant in the last hour",
    # score
    "score": "The risk score, 0-100 (the active model, or the built-in heuristic)",
}
FEATURE_NAMES = frozenset(FEATURES)

DISPOSABLE_EMAIL_DOMAINS = frozenset(
    {
        "mailinator.com",
        "guerrillamail.com",
        "10minutemail.com",
        "tempmail.com",
        "temp-mail.org",
        "yopmail.com",
        "trashmail.com",
        "sharklasers.com",
        "getnada.com",
        "dispostable.com",
    }
)


def _ratio(amount: int, total: int, count: int) -> float:
    if count <= 0 or total <= 0:
        return 0.0
    return round(amount / (total / count), 3)


def build_features(
    *, risk_input: PaymentRiskInput, signals: VelocitySignals, now: datetime
) -> dict[str, Any]:
    email = risk_input.customer_email.strip().lower()
    domain = email.rpartition("@")[2] if "@" in email else ""
    card_country = risk_input.card_country.upper()
    ip_country = risk_input.ip_country.upper()
    amount = risk_input.amount_minor
    return {
        "amount_minor": amount,
        "currency": risk_input.currency.upper(),
        "mode": risk_input.mode,
        "merchant_id": risk_input.merchant_id,
        "is_round_amount": amount > 0 and amount % 10_000 == 0,
        "hour_utc": now.hour,
        "day_of_week": now.weekday(),
        "card_bin": risk_input.card_bin[:6],
        "card_brand": risk_input.card_brand,
        "card_country": card_country,
        "card_age_days": signals.card_age_days,
        "is_new_card": bool(risk_input.card_fingerprint) and signals.card_age_days == 0,
        "customer_email": email,
        "email_domain": domain,
        "is_disposable_email": domain in DISPOSABLE_EMAIL_DOMAINS,
        "customer_payment_count": signals.customer_count,
        "amount_to_customer_avg": _ratio(amount, signals.customer_amount, signals.customer_count),
        "ip_address": risk_input.ip_address,
        "ip_country": ip_country,
        "device_id": risk_input.device_id,
        "country_mismatch": bool(card_country and ip_country and card_country != ip_country),
        "amount_to_merchant_avg": _ratio(amount, signals.merchant_amount, signals.merchant_count),
        "card_count_1h": signals.card.count_short,
        "card_count_24h": signals.card.count_long,
        "card_amount_24h": signals.card.amount_long,
        "email_count_1h": signals.email.count_short,
        "email_count_24h": signals.email.count_long,
        "email_amount_24h": signals.email.amount_long,
        "ip_count_1h": signals.ip.count_short,
        "ip_count_24h": signals.ip.count_long,
        "ip_amount_24h": signals.ip.amount_long,
        "merchant_count_1h": signals.merchant_window.count_short,
        "merchant_amount_1h": signals.merchant_window.amount_short,
        "score": 0,
    }
