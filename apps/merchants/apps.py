from django.apps import AppConfig


class MerchantsConfig(AppConfig):
    name = "apps.merchants"
    label = "merchants"
    verbose_name = "Merchants"

    def ready(self) -> None:
        from apps.merchants.api import schema  # noqa: F401  (registers the OpenAPI auth scheme)
        from apps.merchants.identity import admin as identity_admin  # noqa: F401  (2FA reset)
