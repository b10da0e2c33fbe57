"""Public interface of the risk app: the only module other apps import (with contracts).

Fraud scoring, rules, velocity, review queue, AML and sanctions screening.
"""
