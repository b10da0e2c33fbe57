"""The portal's team pages, under /portal/team/."""

from django.urls import path

import apps.common.api.converters  # noqa: F401  (registers the public_id and url_token converters)
from apps.merchants.team_portal import views

app_name = "team"
urlpatterns = [
    path("", views.team_page, name="members"),
    path("invite/", views.invite_member, name="invite"),
    path("members/<int:user_id>/role/", views.change_role, name="change-role"),
    path("members/<int:user_id>/remove/", views.remove_member, name="remove"),
    path(
        "invitations/<public_id:invitation_id>/revoke/",
        views.revoke_pending_invitation,
        name="revoke-invitation",
    ),
    path("invitations/<url_token:token>/", views.accept_invitation_page, name="accept-invitation"),
]
