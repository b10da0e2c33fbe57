"""Verifying a merchant's payout bank account through open banking.

The merchants app keeps the account and cannot reach the openbanking app (it sits below it);
the portal sits above both, so the check is orchestrated here: read the account's full
details from merchants, ask openbanking whether an account-access consent of this merchant
shows an account with that number and holder name (the bank is called; no transaction is
open), and record the outcome for the account id that was checked. If the details changed
meanwhile, the record is refused (a new id), so a check can never verify other details.
Both apps audit their side (the consent read, the verification).
"""

from __future__ import annotations

from apps.merchants import facade as merchants
from apps.merchants.contracts import PayoutBankAccountSummary
from apps.openbanking import facade as openbanking


class NoPayoutBankAccountError(Exception):
    pass


def verify_payout_bank_account(
    *, merchant_id: str, mode: str, consent_id: str, user_id: str
) -> PayoutBankAccountSummary:
    """Check the current payout account against ``consent_id``; returns the account as
    recorded (``is_verified`` when the bank showed it). Raises the openbanking app's errors
    for a consent that is not this merchant's, not authorised, expired or revoked."""
    destination = merchants.reveal_payout_destination(merchant_id=merchant_id, mode=mode)
    if destination is None:
        raise NoPayoutBankAccountError("Add a payout bank account first.")
    check = openbanking.check_payout_account(
        merchant_id=merchant_id,
        mode=mode,
        consent_id=consent_id,
        holder_name=destination.holder_name,
        sort_code=destination.sort_code,
        account_number=destination.account_number,
    )
    return merchants.record_payout_bank_account_verification(
        merchant_id=merchant_id,
        mode=mode,
        account_id=destination.account_id,
        consent_id=consent_id,
        matched=check.matches,
        actor_type="user",
        actor_id=user_id,
    )
