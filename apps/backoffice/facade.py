"""Public interface of the backoffice app: the only module other apps import (with contracts).

Operations admin, configuration platform, alerts and analytics.
"""
