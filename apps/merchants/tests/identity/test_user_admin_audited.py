"""An administrator's changes to a user in the Django admin are security-relevant and land in
the audit trail: a password set for them (their sessions end), and who may sign in or what
they may do (active, staff, superuser, groups)."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from apps.common.models import AuditEvent
from apps.common.testing.staff import make_superuser_client
from apps.merchants.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 2026"


def test_a_password_an_admin_sets_is_audited_with_the_admin_as_actor():
    user = UserFactory.create()
    staff, admin_user = make_superuser_client(username="password-admin@paymenthub.example")

    response = staff.post(
        f"/admin/auth/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )

    assert response.status_code == 302
    assert get_user_model().objects.get(pk=user.pk).check_password(NEW_PASSWORD)
    audit = AuditEvent.objects.get(action="auth.password_changed", object_id=str(user.pk))
    assert (audit.actor_type, audit.actor_id) == ("admin", str(admin_user.pk))
    assert NEW_PASSWORD not in str(audit.metadata)


def test_making_a_user_staff_and_adding_a_group_is_audited():
    user = UserFactory.create(is_staff=False)
    group = Group.objects.create(name="ops")
    staff, admin_user = make_superuser_client(username="roles-admin@paymenthub.example")
    page = staff.get(f"/admin/auth/user/{user.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in {"password", "groups", "user_permissions"}
    }
    data.update(
        {
            "is_staff": "on",
            "is_active": "on",
            "groups": [group.pk],
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        }
    )
    data.pop("date_joined", None)
    data.pop("last_login", None)

    response = staff.post(f"/admin/auth/user/{user.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    audit = AuditEvent.objects.get(action="auth.user_changed_by_admin", object_id=str(user.pk))
    assert audit.actor_id == str(admin_user.pk)
    assert audit.metadata["changes"]["is_staff"] == {"from": False, "to": True}
    assert audit.metadata["changes"]["groups"] == {"from": [], "to": ["ops"]}
