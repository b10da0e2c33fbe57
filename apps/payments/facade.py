"""Public interface of the payments app: the only module other apps import (with contracts).

The payment lifecycle, orchestrator, processor connectors, refunds and webhooks.
"""
