from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "apps.backoffice"
    label = "backoffice"
    verbose_name = "Back office"

    def ready(self) -> None:
        # the alerts admin and the support timeline page (apps/backoffice/alerts_admin.py)
        from apps.backoffice import alerts_admin  # noqa: F401
