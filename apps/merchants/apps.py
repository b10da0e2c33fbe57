from django.apps import AppConfig


class MerchantsConfig(AppConfig):
    name = "apps.merchants"
    label = "merchants"
    verbose_name = "Merchants"

    def ready(self) -> None:
        # the platform's fee schedule as a runtime configuration document
        from apps.common.config import register_config_schema
        from apps.merchants.api import schema  # noqa: F401  (registers the OpenAPI auth scheme)
        from apps.merchants.fee_schedule import FEE_SCHEDULE_SCHEMA
        from apps.merchants.identity import admin as identity_admin  # noqa: F401  (2FA reset)

        register_config_schema(schema=FEE_SCHEDULE_SCHEMA)
