"""Gunicorn settings for benchmark runs: quiet, keep-alive on, nothing read from the tree.

Passing this file explicitly stops gunicorn from picking up a ``gunicorn.conf.py`` from the
working directory; bind, workers and threads come from the command line.
"""

accesslog = None
errorlog = "-"
loglevel = "warning"
keepalive = 5
timeout = 30
graceful_timeout = 5
