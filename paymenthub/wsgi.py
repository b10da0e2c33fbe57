"""WSGI entry point (gunicorn paymenthub.wsgi).

Once the application is set up, everything the first request would import (every URLconf
and view module) is loaded, and the objects alive at that point, about 170,000 of them, are
frozen out of the cyclic garbage collector's sight (``gc.freeze``): they live as long as the
process, and every full collection would otherwise walk them all again. Measured on the
payments hot path: garbage collection went from about 0.45 ms to 0.16-0.19 ms per
create+confirm (docs/architecture/0016-hot-path-statements-written-out.md).
"""

import gc

from django.core.handlers.wsgi import WSGIHandler

from paymenthub.bootstrap import load_settings_or_exit

load_settings_or_exit()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import get_resolver  # noqa: E402

application: WSGIHandler = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 - imports every URLconf and view module now
gc.freeze()
