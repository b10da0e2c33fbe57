"""Shared plumbing for benchmarks: figures, a throwaway database, gunicorn, an HTTP load driver.

Nothing here measures anything by itself; it exists so each benchmark module stays short.
"""
