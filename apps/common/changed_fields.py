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
* everything, when the instance was never loaded nor remembered (a plain ``save()``).

This is persistence plumbing, not business logic: callers decide what changes and when.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any, Self

from django.db import models

_MUTABLE = (dict, list)


def _snapshot(value: Any) -> Any:
    return copy.deepcopy(value) if isinstance(value, _MUTABLE) else value


class RemembersLoadedValues(models.Model):
    """Mixin: remember each loaded column's value (``_loaded_values``, by attname)."""

    class Meta:
        abstract = True

    _loaded_values: dict[str, Any]

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


def remember_saved_values(instance: models.Model) -> None:
    """After ``create()``: what is in the row now is what the instance holds."""
    instance._loaded_values = {  # type: ignore[attr-defined]
        field.attname: _snapshot(getattr(instance, field.attname))
        for field in instance._meta.concrete_fields
    }


def list_changed_fields(instance: models.Model) -> list[str] | None:
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


def save_changed_fields(instance: models.Model) -> None:
    """Save the columns that changed since the instance was loaded or last saved (all of
    them when it was never loaded), and remember the saved values."""
    changed = list_changed_fields(instance)
    if changed is None:
        instance.save()
        remember_saved_values(instance)
        return
    if not changed:
        return
    instance.save(update_fields=changed)
    loaded: dict[str, Any] = instance._loaded_values  # type: ignore[attr-defined]
    loaded.update({name: _snapshot(getattr(instance, name)) for name in changed})
