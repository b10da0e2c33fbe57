"""WSGI entry point (gunicorn paymenthub.wsgi)."""

from django.core.handlers.wsgi import WSGIHandler

from paymenthub.bootstrap import load_settings_or_exit

load_settings_or_exit()

from django.core.wsgi import get_wsgi_application  # noqa: E402

application: WSGIHandler = get_wsgi_application()
