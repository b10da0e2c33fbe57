from django.apps import AppConfig


class OpenbankingConfig(AppConfig):
    name = "apps.openbanking"
    label = "openbanking"
    verbose_name = "Open banking"
