"""Frozen data the ledger app hands to other apps."""
