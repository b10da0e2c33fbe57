"""PaymentHub benchmarks: each prints figures measured against a baseline taken in the same run.

Run ``python -m bench --list`` to see them; ``bench/README.md`` explains the output format.
"""
