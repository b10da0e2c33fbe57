"""Saving only the columns a service changed (apps.common.changed_fields), on the payment
model that uses it: what was changed is written, what was not is left as the row holds it,
and nothing a caller changed is ever dropped."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.common.changed_fields import (
    list_changed_fields,
    list_columns_to_update,
    save_changed_fields,
)
from apps.common.ids import make_public_id
from apps.payments.models import Payment
from apps.payments.tests.statements import list_updated_columns

pytestmark = pytest.mark.django_db


def build_payment(**overrides) -> Payment:
    """A payment in memory, not saved."""
    now = timezone.now()
    fields = {
        "public_id": make_public_id(prefix="pay"),
        "merchant_ref": "mch_changed",
        "mode": "test",
        "amount_minor": 1500,
        "currency": "EUR",
        "status": "requires_confirmation",
        "capture_method": "automatic",
        "metadata": {"order": "A-1"},
        "created_at": now,
        "updated_at": now,
    }
    return Payment(**{**fields, **overrides})


def make_payment(**overrides) -> Payment:
    payment = build_payment(**overrides)
    payment.save(force_insert=True)
    return payment


def updated_columns(queries) -> list[set[str]]:
    return [columns for _table, columns in list_updated_columns(queries)]


def test_a_loaded_payment_writes_back_only_the_columns_that_changed():
    payment = Payment.objects.get(pk=make_payment().pk)
    payment.status = "processing"
    payment.connector = "simulator"

    with CaptureQueriesContext(connection) as queries:
        save_changed_fields(payment)

    assert updated_columns(queries.captured_queries) == [{"status", "connector"}]
    stored = Payment.objects.get(pk=payment.pk)
    assert (stored.status, stored.connector) == ("processing", "simulator")


def test_a_column_changed_elsewhere_is_not_overwritten_with_a_stale_value():
    payment = Payment.objects.get(pk=make_payment().pk)
    Payment.objects.filter(pk=payment.pk).update(description="set by someone else")
    payment.status = "processing"

    save_changed_fields(payment)

    assert Payment.objects.get(pk=payment.pk).description == "set by someone else"


def test_a_json_value_changed_in_place_is_seen_and_saved():
    payment = Payment.objects.get(pk=make_payment().pk)
    payment.metadata["gift"] = "yes"

    assert list_changed_fields(payment) == ["metadata"]
    save_changed_fields(payment)

    assert Payment.objects.get(pk=payment.pk).metadata == {"order": "A-1", "gift": "yes"}


def test_a_column_deferred_at_load_and_set_since_is_saved():
    payment = Payment.objects.only("id", "status").get(pk=make_payment().pk)
    payment.description = "set on a deferred column"

    save_changed_fields(payment)

    assert Payment.objects.get(pk=payment.pk).description == "set on a deferred column"


def test_nothing_changed_sends_no_update_and_a_second_save_sends_only_the_new_change():
    payment = Payment.objects.get(pk=make_payment().pk)
    with CaptureQueriesContext(connection) as queries:
        save_changed_fields(payment)
        payment.status = "processing"
        save_changed_fields(payment)
        payment.decline_code = "generic_decline"
        save_changed_fields(payment)

    assert updated_columns(queries.captured_queries) == [{"status"}, {"decline_code"}]


def test_a_created_payment_remembers_what_it_was_created_with():
    created = make_payment()
    created.status = "canceled"
    assert list_changed_fields(created) == ["status"]


def test_an_instance_never_loaded_nor_saved_is_saved_whole():
    built = build_payment(amount_minor=900, capture_method="manual")
    assert list_changed_fields(built) is None
    save_changed_fields(built)
    assert Payment.objects.get(pk=built.pk).amount_minor == 900
    assert list_changed_fields(built) == []


def test_the_columns_to_update_are_the_changed_ones_and_none_after_a_whole_save():
    loaded = Payment.objects.get(pk=make_payment().pk)
    loaded.status = "processing"
    built = build_payment(amount_minor=700)

    assert list_columns_to_update(loaded) == ["status"]
    assert list_columns_to_update(built) == []  # saved whole instead
    assert Payment.objects.get(pk=built.pk).amount_minor == 700


def test_a_plain_save_and_a_refresh_move_what_is_remembered():
    payment = Payment.objects.get(pk=make_payment().pk)
    payment.status = "processing"
    payment.save()  # a whole-row save elsewhere: the row now holds processing
    payment.status = "requires_confirmation"  # and back: a change to write
    assert list_changed_fields(payment) == ["status"]
    save_changed_fields(payment)
    assert Payment.objects.get(pk=payment.pk).status == "requires_confirmation"

    Payment.objects.filter(pk=payment.pk).update(status="canceled")
    payment.refresh_from_db()
    payment.status = "requires_confirmation"  # back to what it was before the refresh
    assert list_changed_fields(payment) == ["status"]
    save_changed_fields(payment)
    assert Payment.objects.get(pk=payment.pk).status == "requires_confirmation"
