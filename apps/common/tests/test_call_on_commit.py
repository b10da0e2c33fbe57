"""A failing after-commit call is logged and the transaction's other calls still run; a
``functools.partial`` handed to Django's robust on_commit would instead break the commit."""

from __future__ import annotations

import logging
from functools import partial

import pytest
from django.db import transaction

from apps.common.transactions import call_on_commit

pytestmark = pytest.mark.django_db(transaction=True)


def refuse(*, reason: str) -> None:
    raise ConnectionError(reason)


def test_a_failing_call_is_logged_by_name_and_the_next_call_still_runs(caplog):
    ran: list[str] = []

    with caplog.at_level(logging.ERROR), transaction.atomic():
        call_on_commit(refuse, reason="broker down")
        call_on_commit(ran.append, "second")

    assert ran == ["second"]
    assert "Error calling refuse in on_commit()" in caplog.text


def test_nothing_runs_when_the_transaction_rolls_back():
    ran: list[str] = []

    with pytest.raises(RuntimeError), transaction.atomic():
        call_on_commit(ran.append, "never")
        raise RuntimeError("rolled back")

    assert ran == []


def test_a_bare_partial_in_a_robust_on_commit_breaks_the_commit_which_is_why_this_exists():
    with pytest.raises(AttributeError), transaction.atomic():
        transaction.on_commit(partial(refuse, reason="broker down"), robust=True)
