"""Django admin of the back office (registers each feature's admin module)."""

from apps.backoffice import (
    analytics_admin,  # noqa: F401
    approvals_admin,  # noqa: F401
)
