from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "apps.common"
    label = "common"
    verbose_name = "Platform kernel"

    def ready(self) -> None:
        # The runtime configuration admin (its own module; apps/common/admin.py holds the rest).
        from apps.common import config_admin  # noqa: F401
