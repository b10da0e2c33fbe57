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

        # captures and refunds for AML monitoring; captured payments are re-scored (Celery)
        from apps.common.outbox import register_outbox_handler
        from apps.risk import tasks  # noqa: F401  (registers the Celery tasks)
        from apps.risk.events import PAYMENT_SUCCEEDED, REFUND_SUCCEEDED, handle_payment_event

        register_outbox_handler(event_type=PAYMENT_SUCCEEDED, handler=handle_payment_event)
        register_outbox_handler(event_type=REFUND_SUCCEEDED, handler=handle_payment_event)
