"""Processor connectors: one Protocol (``base.py``), a built-in simulator, Stripe."""
