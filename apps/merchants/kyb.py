"""KYB document checks: what a file really is (magic bytes), and how big it may be.

The type is decided by the file's first bytes, never by its name or the browser's
Content-Type; the extension must also agree, so a PDF is never stored as ``.png``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.base import File

from apps.merchants.errors import InvalidDocumentError

# content type → (magic bytes at offset 0, accepted extensions)
ALLOWED_KYB_TYPES: dict[str, tuple[bytes, frozenset[str]]] = {
    "application/pdf": (b"%PDF-", frozenset({"pdf"})),
    "image/png": (b"\x89PNG\r\n\x1a\n", frozenset({"png"})),
    "image/jpeg": (b"\xff\xd8\xff", frozenset({"jpg", "jpeg"})),
}
_SNIFF_BYTES = 8


def get_kyb_document_max_bytes() -> int:
    return int(getattr(settings, "KYB_DOCUMENT_MAX_BYTES", 10 * 1024 * 1024))


def sniff_kyb_content_type(*, head: bytes) -> str | None:
    for content_type, (magic, _extensions) in ALLOWED_KYB_TYPES.items():
        if head.startswith(magic):
            return content_type
    return None


def check_kyb_upload(*, upload: File[bytes]) -> str:
    """Return the sniffed content type of an acceptable upload; raise InvalidDocumentError
    (param ``file``) for an empty, oversized, unrecognised or misnamed file."""
    size = upload.size or 0
    max_bytes = get_kyb_document_max_bytes()
    if size <= 0:
        raise InvalidDocumentError(message="The file is empty.", param="file")
    if size > max_bytes:
        raise InvalidDocumentError(
            message=f"The file is larger than {max_bytes // (1024 * 1024)} MB.", param="file"
        )
    upload.seek(0)
    head = upload.read(_SNIFF_BYTES)
    upload.seek(0)
    content_type = sniff_kyb_content_type(head=head)
    if content_type is None:
        raise InvalidDocumentError(
            message="Only PDF, PNG and JPEG documents are accepted.", param="file"
        )
    name = (upload.name or "").rsplit("/", 1)[-1]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in ALLOWED_KYB_TYPES[content_type][1]:
        raise InvalidDocumentError(
            message="The file's name does not match its contents (PDF, PNG or JPEG).",
            param="file",
        )
    return content_type
