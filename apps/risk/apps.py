from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "apps.risk"
    label = "risk"
    verbose_name = "Risk"

    def ready(self) -> None:
        # Sanctions screening of merchants at onboarding: the merchants app calls whichever
        # screener is registered (it cannot import this app; dependencies point this way).
        from apps.merchants.facade import register_sanctions_screener
        from apps.risk.sanctions.services import screen_merchant

        register_sanctions_screener(screener=screen_merchant)
