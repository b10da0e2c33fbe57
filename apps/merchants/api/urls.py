from django.urls import path

from apps.merchants.api.views import AccountView

urlpatterns = [
    path("account", AccountView.as_view(), name="account"),
]
