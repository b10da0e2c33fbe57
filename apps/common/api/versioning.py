"""The API version registry: every dated version the ``/v1/`` API knows and what changed in each.

The views always render the *current* shape. A request made at an older version gets that shape
walked back through the changes of every newer version, newest first (the way Stripe does it), so
no view is ever forked per version. Adding a version means: add a ``ApiVersion`` entry at the end
of ``API_VERSIONS`` with the ``VersionChange`` objects that undo it, and document it in
docs/api/versioning.md.
"""

from __future__ import annotations

CURRENT_API_VERSION = "2026-11-01"


def current_api_version() -> str:
    """The version new merchants are pinned to (the model field's default)."""
    return CURRENT_API_VERSION
