"""PaymentHub project wiring. The Celery app is imported so shared tasks bind to it."""

from paymenthub.celery import app as celery_app

__all__ = ["celery_app"]
