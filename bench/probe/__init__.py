"""A bench-only Django app: the trivial endpoints and table the API benchmark drives.

It is installed only by :mod:`bench.settings`, never by the product's settings, so nothing
here ships or migrates in production.
"""
