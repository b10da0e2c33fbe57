"""Team changes and account creation racing each other, with real threads on PostgreSQL:
two owners removing each other leave one owner and no server error; two invitations to the
same new person accepted at once make one account with both memberships; two sign-ups with
one email (in any case) make one account and a clear refusal."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connections

from apps.common.errors import PaymentHubError
from apps.merchants.contracts import BeneficialOwnerInput
from apps.merchants.models import MerchantMembership
from apps.merchants.onboarding.services import sign_up_merchant
from apps.merchants.services import add_merchant_member
from apps.merchants.team import Actor, accept_invitation, create_invitation, remove_merchant_member
from apps.merchants.tests.factories import MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a long enough passphrase 1"


def run_at_once(calls: list[Callable[[], Any]]) -> list[str]:
    """Each call in its own thread, released together; "ok" or the exception's class name."""
    barrier = threading.Barrier(len(calls))
    results = [""] * len(calls)

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            call()
            results[index] = "ok"
        except PaymentHubError as refused:
            results[index] = f"refused:{refused.code}"
        except Exception as error:
            results[index] = type(error).__name__
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def member(merchant, role):
    user = UserFactory.create()
    add_merchant_member(merchant_id=merchant.public_id, user_id=user.pk, role=role)
    return user


@pytest.mark.parametrize("attempt", range(3))
def test_two_owners_removing_each_other_leave_one_owner_and_no_error(attempt):
    merchant = MerchantFactory.create()
    first, second = member(merchant, "owner"), member(merchant, "owner")

    results = run_at_once(
        [
            lambda: remove_merchant_member(
                merchant_id=merchant.public_id,
                user_id=second.pk,
                actor=Actor("user", str(first.pk)),
            ),
            lambda: remove_merchant_member(
                merchant_id=merchant.public_id,
                user_id=first.pk,
                actor=Actor("user", str(second.pk)),
            ),
        ]
    )

    assert sorted(results)[0] == "ok"
    assert all(result == "ok" or result.startswith("refused:") for result in results), results
    owners = MerchantMembership.objects.filter(merchant=merchant, role="owner").count()
    assert owners == 1


@pytest.mark.parametrize("attempt", range(3))
def test_two_invitations_accepted_at_once_by_a_new_person_make_one_account(attempt):
    merchants = [MerchantFactory.create(), MerchantFactory.create()]
    owners = [member(merchant, "owner") for merchant in merchants]
    email = f"new{attempt}@people.example"
    tokens = [
        create_invitation(
            merchant_id=merchant.public_id,
            email=email,
            role="developer",
            actor=Actor("user", str(owner.pk)),
        ).token
        for merchant, owner in zip(merchants, owners, strict=True)
    ]

    results = run_at_once(
        [lambda token=token: accept_invitation(token=token, password=PASSWORD) for token in tokens]
    )

    assert results == ["ok", "ok"]
    user = get_user_model().objects.get(username__iexact=email)
    joined = set(MerchantMembership.objects.filter(user=user).values_list("merchant_id", flat=True))
    assert joined == {merchant.pk for merchant in merchants}


@pytest.mark.parametrize("attempt", range(3))
def test_two_sign_ups_with_one_email_make_one_account_and_a_clear_refusal(attempt):
    email = f"dup{attempt}@signup.example"

    def sign_up(address: str) -> None:
        sign_up_merchant(
            email=address,
            password=PASSWORD,
            legal_name="Bottega S.r.l.",
            trading_name="Bottega",
            country="IT",
            settlement_currency="EUR",
            support_email="help@bottega.example",
            beneficial_owners=[
                BeneficialOwnerInput(
                    full_name="Ada Rossi",
                    date_of_birth=date(1980, 1, 1),
                    nationality="IT",
                    ownership_percent=Decimal("100"),
                )
            ],
        )

    results = run_at_once([lambda: sign_up(email), lambda: sign_up(email.upper())])

    assert sorted(results) == ["ok", "refused:invalid_merchant"]
    assert get_user_model().objects.filter(username__iexact=email).count() == 1
