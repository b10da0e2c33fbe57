"""Write back only the columns a service changed.

``Model.save()`` with no ``update_fields`` builds and sends an UPDATE of every column; on a
hot path (a payment's status changes twice per confirmation) building that statement costs
more than running it. A model that mixes in :class:`RemembersLoadedValues` keeps the values
it was loaded with (Django's documented ``from_db`` hook), and :func:`save_changed_fields`
compares against them: it saves exactly the columns whose value differs, the way a service
would list them by hand, without the risk of a caller forgetting one.

What counts as changed, conservatively:

* a column whose value differs from the one loaded (mutable values, such as a JSON dict,
  are remembered as deep copies, so changing one in place is seen);
* a column that was not loaded (deferred) but has been set on the instance;
* everything, when the instance was neither loaded nor saved yet (a plain ``save()``).

The snapshot follows every ``save()`` and ``refresh_from_db()`` of the instance. What it cannot
see is a change made to the row by another statement (a queryset ``update()``, another
process): a caller that sets a column back to the value it was loaded with, after someone else
changed the row, is not writing a change as far as this instance knows (Django's own
``update_fields`` has the same blind spot); such a caller reloads (``refresh_from_db``) first.

This is persistence plumbing, not business logic: callers decide what changes and when.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any, Self

from django.db import models

from apps.common.rows import update_columns

_MUTABLE = (dict, list)


def _snapshot(value: Any) -> Any:
    return copy.deepcopy(value) if isinstance(value, _MUTABLE) else value


class RemembersLoadedValues(models.Model):
    """Mixin: remember each column's value as the database has it (``_loaded_values``, by
    attname): when loaded (``from_db``), saved (``save``, any way it is called, ``create``
    included) and refreshed (``refresh_from_db``)."""

    _loaded_values: dict[str, Any]

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        update_fields = kwargs.get("update_fields")
        if update_fields is None:
            _remember(self, names=None)
        else:
            _remember(self, names=[_attname(self, name) for name in update_fields])

    @classmethod
    def from_db(
        cls, db: str | None, field_names: Collection[str], values: Collection[Any], **kwargs: Any
    ) -> Self:
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._loaded_values = {
            name: _snapshot(value)
            for name, value in zip(field_names, values, strict=True)
            if value is not models.DEFERRED
        }
        return instance

    def remember_saved_columns(self, *, attnames: list[str] | None) -> None:
        """Called by ``apps.common.rows`` after it wrote these columns (None: every one)."""
        _remember(self, names=attnames)

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        super().refresh_from_db(*args, **kwargs)
        fields = kwargs.get("fields")
        if fields is None and len(args) > 1:
            fields = args[1]
        names = None if fields is None else [_attname(self, name) for name in fields]
        _remember(self, names=names, loaded_only=True)


def _attname(instance: models.Model, name: str) -> str:
    """A field's column attribute (``payment`` → ``payment_id``)."""
    return str(getattr(instance._meta.get_field(name), "attname", name))


def _remember(
    instance: models.Model, *, names: list[str] | None, loaded_only: bool = False
) -> None:
    """Remember the current values of ``names`` (None: every concrete column the instance
    holds) as what the database has."""
    snapshot: dict[str, Any] = instance.__dict__.setdefault("_loaded_values", {})
    if names is None:
        names = [
            field.attname
            for field in instance._meta.concrete_fields
            if not loaded_only or field.attname in instance.__dict__
        ]
    for name in names:
        snapshot[name] = _snapshot(getattr(instance, name))


def list_changed_fields(instance: RemembersLoadedValues) -> list[str] | None:
    """The attnames whose values differ from the remembered ones; None when nothing was
    remembered (every column must be written)."""
    loaded: dict[str, Any] | None = getattr(instance, "_loaded_values", None)
    if loaded is None:
        return None
    changed = []
    for field in instance._meta.concrete_fields:
        if field.primary_key:
            continue
        name = field.attname
        if name in loaded:
            if getattr(instance, name) != loaded[name]:
                changed.append(name)
        elif name in instance.__dict__:  # deferred at load, set since
            changed.append(name)
    return changed


def list_columns_to_update(instance: RemembersLoadedValues) -> list[str]:
    """The columns an UPDATE must write to save ``instance``: those that changed. An instance
    neither loaded nor saved has nothing to compare with: it is saved whole here, and
    nothing is left to update."""
    changed = list_changed_fields(instance)
    if changed is None:
        instance.save()
        return []
    return changed


def save_changed_fields(instance: RemembersLoadedValues) -> None:
    """Save the columns that changed since the instance was loaded or last saved (all of
    them when it was neither), with one written-out UPDATE (``apps.common.rows``); the mixin
    remembers what was saved."""
    changed = list_columns_to_update(instance)
    if changed:
        update_columns(instance, attnames=changed)
