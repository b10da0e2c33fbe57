"""Django admin of the back office (registers each feature's admin module)."""

from apps.backoffice import approvals_admin  # noqa: F401
