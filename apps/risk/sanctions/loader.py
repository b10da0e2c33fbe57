"""Loading the OFAC SDN list (legacy CSV format) into the sanctions tables.

OFAC publishes ``sdn.csv`` (ent_num, name, type, programs, title, call sign, vessel type,
tonnage, GRT, vessel flag, vessel owner, remarks) and ``alt.csv`` (ent_num, alt_num, alt_type,
alt_name, remarks), with no header row, ``-0-`` for an empty field and a DOS end-of-file byte
(``0x1A``) on the last line. The shared snapshot names them ``ofac-sdn.csv``/``ofac-alt.csv``;
both spellings are read.

A load builds a new list version and switches the active version to it in one transaction,
so screening sees the old list or the new one, never half of one. Loading files whose
checksum equals the active version's is a no-op. Only the previous version is kept (for the
audit trail of recent screenings); older ones are deleted.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.db import transaction

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.errors import InvalidRequestError
from apps.risk.models import SanctionsAlias, SanctionsEntry, SanctionsListVersion
from apps.risk.sanctions.index import DEFAULT_SOURCE, version_label
from apps.risk.velocity import bump_config_token

SDN_FILE_NAMES = ("sdn.csv", "ofac-sdn.csv", "SDN.CSV")
ALT_FILE_NAMES = ("alt.csv", "ofac-alt.csv", "ALT.CSV")
SDN_COLUMNS = 12
ALT_COLUMNS = 5
_EMPTY = "-0-"
_BATCH_SIZE = 2000


class SanctionsListError(InvalidRequestError):
    """The list files are missing or not in the OFAC legacy CSV format."""

    def __init__(self, *, message: str) -> None:
        super().__init__(code="sanctions_list_invalid", message=message, param="path")


@dataclass(frozen=True, slots=True)
class SdnRow:
    list_uid: str
    name: str
    entry_type: str
    programs: str
    title: str
    remarks: str


@dataclass(frozen=True, slots=True)
class AltRow:
    list_uid: str
    alias_uid: str
    alias_type: str
    name: str
    remarks: str


@dataclass(frozen=True, slots=True)
class SanctionsLoadResult:
    version_label: str
    created: bool  # False: the files equal the active version (nothing changed)
    entry_count: int
    alias_count: int
    skipped_aliases: int = 0


def _field(value: str) -> str:
    value = value.strip()
    return "" if value == _EMPTY else value


def _decode(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # older OFAC files are Windows-1252
        text = raw.decode("cp1252", errors="replace")
    return text.replace("\x1a", "")


def _rows(text: str, *, columns: int, file_name: str) -> list[list[str]]:
    rows = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != columns:
            raise SanctionsListError(
                message=f"{file_name} line {number}: expected {columns} fields, got {len(row)}."
            )
        if not row[0].strip().isdigit():
            raise SanctionsListError(
                message=f"{file_name} line {number}: the entry number {row[0]!r} is not a number."
            )
        rows.append(row)
    return rows


def parse_sdn(text: str, *, file_name: str = "sdn.csv") -> list[SdnRow]:
    parsed = []
    seen: set[str] = set()
    for row in _rows(text, columns=SDN_COLUMNS, file_name=file_name):
        uid = row[0].strip()
        name = _field(row[1])
        if not name or uid in seen:
            continue
        seen.add(uid)
        parsed.append(
            SdnRow(
                list_uid=uid,
                name=name[:500],
                entry_type=_field(row[2])[:20],
                programs=_field(row[3])[:500],
                title=_field(row[4])[:500],
                remarks=_field(row[11]),
            )
        )
    return parsed


def parse_alt(text: str, *, file_name: str = "alt.csv") -> list[AltRow]:
    parsed = []
    for row in _rows(text, columns=ALT_COLUMNS, file_name=file_name):
        name = _field(row[3])
        if not name:
            continue
        parsed.append(
            AltRow(
                list_uid=row[0].strip(),
                alias_uid=_field(row[1])[:40],
                alias_type=(_field(row[2]) or "aka").lower()[:10],
                name=name[:500],
                remarks=_field(row[4]),
            )
        )
    return parsed


def _find(directory: Path, names: tuple[str, ...]) -> Path:
    for name in names:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    raise SanctionsListError(message=f"No {' or '.join(names[:2])} in {directory}.")


def read_list_files(*, path: Path) -> tuple[bytes, bytes]:
    """The raw bytes of the SDN and alias files in ``path``."""
    if not path.is_dir():
        raise SanctionsListError(message=f"The sanctions data directory {path} does not exist.")
    return _find(path, SDN_FILE_NAMES).read_bytes(), _find(path, ALT_FILE_NAMES).read_bytes()


def load_sanctions_list(
    *,
    path: Path,
    source: str = DEFAULT_SOURCE,
    actor_id: str = "",
    now: datetime | None = None,
) -> SanctionsLoadResult:
    """Load the list in ``path`` as the active version of ``source`` (idempotent; audited)."""
    now = now or get_now()
    sdn_bytes, alt_bytes = read_list_files(path=path)
    checksum = hashlib.sha256(
        hashlib.sha256(sdn_bytes).digest() + hashlib.sha256(alt_bytes).digest()
    ).hexdigest()
    entries = parse_sdn(_decode(sdn_bytes))
    aliases = parse_alt(_decode(alt_bytes))
    if not entries:
        raise SanctionsListError(message=f"The SDN file in {path} lists no one.")
    with transaction.atomic():
        # Serialise loaders of one source on the active version's row (or on nothing at all
        # for the very first load, where the partial unique constraint settles a race).
        active = (
            SanctionsListVersion.objects.select_for_update()
            .filter(source=source, is_active=True)
            .first()
        )
        if active is not None and active.checksum == checksum:
            return SanctionsLoadResult(
                version_label=version_label(active),
                created=False,
                entry_count=active.entry_count,
                alias_count=active.alias_count,
            )
        version = SanctionsListVersion.objects.create(
            source=source,
            checksum=checksum,
            is_active=False,
            loaded_from=str(path)[:500],
            loaded_by=actor_id[:100],
            loaded_at=now,
        )
        created_entries = SanctionsEntry.objects.bulk_create(
            [
                SanctionsEntry(
                    version=version,
                    list_uid=row.list_uid,
                    name=row.name,
                    entry_type=row.entry_type,
                    programs=row.programs,
                    title=row.title,
                    remarks=row.remarks,
                )
                for row in entries
            ],
            batch_size=_BATCH_SIZE,
        )
        entry_ids = {entry.list_uid: entry.pk for entry in created_entries}
        alias_rows = [row for row in aliases if row.list_uid in entry_ids]
        SanctionsAlias.objects.bulk_create(
            [
                SanctionsAlias(
                    entry_id=entry_ids[row.list_uid],
                    alias_uid=row.alias_uid,
                    alias_type=row.alias_type,
                    name=row.name,
                    remarks=row.remarks,
                )
                for row in alias_rows
            ],
            batch_size=_BATCH_SIZE,
        )
        if active is not None:
            SanctionsListVersion.objects.filter(source=source, is_active=False).exclude(
                pk=version.pk
            ).delete()
            active.is_active = False
            active.deactivated_at = now
            active.save(update_fields=["is_active", "deactivated_at"])
        version.is_active = True
        version.entry_count = len(created_entries)
        version.alias_count = len(alias_rows)
        version.save(update_fields=["is_active", "entry_count", "alias_count"])
        result = SanctionsLoadResult(
            version_label=version_label(version),
            created=True,
            entry_count=version.entry_count,
            alias_count=version.alias_count,
            skipped_aliases=len(aliases) - len(alias_rows),
        )
        record_audit_event(
            action="risk.sanctions_list_loaded",
            actor_type="admin" if actor_id else "system",
            actor_id=actor_id,
            object_type="sanctions_list_version",
            object_id=result.version_label,
            metadata={
                "source": source,
                "checksum": checksum,
                "entries": result.entry_count,
                "aliases": result.alias_count,
                "skipped_aliases": result.skipped_aliases,
                "previous": version_label(active) if active is not None else "",
                "path": str(path),
            },
            occurred_at=now,
        )
        # payment screenings in every process re-read the active version (apps.risk.velocity)
        transaction.on_commit(bump_config_token)
    bump_config_token()
    return result
