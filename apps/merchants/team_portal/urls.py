"""The portal's team pages, under /portal/team/."""

from django.urls import path

from apps.merchants.team_portal import views

app_name = "team"
urlpatterns = [
    path("", views.team_page, name="members"),
    path("invite/", views.invite_member, name="invite"),
    path("members/<int:user_id>/role/", views.change_role, name="change-role"),
    path("members/<int:user_id>/remove/", views.remove_member, name="remove"),
    path(
        "invitations/<str:invitation_id>/revoke/",
        views.revoke_pending_invitation,
        name="revoke-invitation",
    ),
    path("invitations/<str:token>/", views.accept_invitation_page, name="accept-invitation"),
]
