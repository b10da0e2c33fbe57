from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "apps.payments"
    label = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from apps.common.config import register_config_schema
        from apps.common.outbox import ALL_EVENTS, register_outbox_handler
        from apps.payments import tasks  # noqa: F401  (registers the Celery tasks)
        from apps.payments.webhooks import fan_out_webhook_event

        register_outbox_handler(event_type=ALL_EVENTS, handler=fan_out_webhook_event)

        # manual review outcomes recorded by the risk app: capture, cancel or refund
        from apps.payments.risk_reviews import (
            REVIEW_APPROVED,
            REVIEW_REJECTED,
            handle_risk_review_event,
        )

        register_outbox_handler(event_type=REVIEW_APPROVED, handler=handle_risk_review_event)
        register_outbox_handler(event_type=REVIEW_REJECTED, handler=handle_risk_review_event)

        # pay by bank: openbanking's news of a bank payment (ADR 0013)
        from apps.payments.bank_payments import BANK_PAYMENT_EVENTS, handle_bank_payment_event

        for event_type in BANK_PAYMENT_EVENTS:
            register_outbox_handler(event_type=event_type, handler=handle_bank_payment_event)

        # routing rules and connector priorities as a runtime configuration document
        from apps.payments.routing_config import ROUTING_RULES_SCHEMA

        register_config_schema(schema=ROUTING_RULES_SCHEMA)
