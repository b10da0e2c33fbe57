"""Public interface of the ledger app: the only module other apps import (with contracts).

Double-entry bookkeeping, balances, settlement and payouts.
"""
