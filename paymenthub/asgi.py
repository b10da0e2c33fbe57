"""ASGI entry point."""

from django.core.handlers.asgi import ASGIHandler

from paymenthub.bootstrap import load_settings_or_exit

load_settings_or_exit()

from django.core.asgi import get_asgi_application  # noqa: E402

application: ASGIHandler = get_asgi_application()
