from datetime import timedelta

from django.conf import settings

from paymenthub.celery import app


class TestCeleryConfiguration:
    def test_speaks_json_only(self):
        assert app.conf.task_serializer == "json"
        assert app.conf.accept_content == ["json"]

    def test_acknowledges_late_and_prefetches_one_so_idempotent_tasks_survive_crashes(self):
        assert app.conf.task_acks_late is True
        assert app.conf.task_reject_on_worker_lost is True
        assert app.conf.worker_prefetch_multiplier == 1

    def test_declares_the_explicit_queues(self):
        names = {queue.name for queue in app.conf.task_queues}
        assert {
            "payments",
            "settlement",
            "risk",
            "reconciliation",
            "webhooks",
            "openbanking",
            "alerts",
        } <= names

    def test_routes_tasks_by_area(self):
        router = app.amqp.router
        assert router.route({}, "payments.resolve_unknown_attempt")["queue"].name == "payments"
        assert router.route({}, "settlement.run_settlement")["queue"].name == "settlement"
        assert router.route({}, "common.relay_outbox")["queue"].name == "default"

    def test_beat_relays_the_outbox_every_few_seconds(self):
        entry = settings.CELERY_BEAT_SCHEDULE["relay-outbox"]
        assert entry["task"] == "common.relay_outbox"
        schedule = entry["schedule"]
        assert isinstance(schedule, timedelta)
        assert schedule.total_seconds() <= 5
        app.loader.import_default_modules()  # what a worker does at start: autodiscovery
        assert "common.relay_outbox" in app.tasks

    def test_every_beat_entry_names_a_task_a_worker_registers(self):
        app.loader.import_default_modules()
        scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
        assert {
            "common.prune_idempotency_keys",
            "payments.resolve_unknown_attempts",
            "payments.retry_due_webhooks",
            "tokenization.shred_expired_tokens",  # cards abandoned in the vault
        } <= scheduled
        assert scheduled <= set(app.tasks)

    def test_uses_the_configured_broker(self):
        assert app.conf.broker_url == settings.CELERY_BROKER_URL
