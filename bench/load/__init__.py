"""The load test: ``python -m bench.load`` plays a realistic API mix with locust.

Importing this package must stay free of Django and locust: the locustfile (run by locust in
its own gevent process) and the runner (a Django process) both import :mod:`bench.load.mix`.
"""
