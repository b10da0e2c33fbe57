"""KYB documents: the type comes from the content, the size is limited, the file lives under
MEDIA_ROOT where no URL serves it, and staff open it only through an audited service."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import Resolver404, resolve

from apps.common.models import AuditEvent
from apps.merchants.errors import (
    DocumentNotFoundError,
    InvalidDocumentError,
    InvalidMerchantDataError,
)
from apps.merchants.models import KybDocument
from apps.merchants.services import open_kyb_document_for_staff, upload_kyb_document
from apps.merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _upload(merchant, name, content, document_type="certificate_of_incorporation"):
    return upload_kyb_document(
        merchant_id=merchant.public_id,
        document_type=document_type,
        upload=SimpleUploadedFile(name, content, content_type="application/pdf"),
        actor_type="user",
        actor_id="7",
    )


class TestUploadKybDocument:
    @pytest.mark.parametrize(
        ("name", "content", "content_type"),
        [
            ("cert.pdf", PDF, "application/pdf"),
            ("id.PNG", PNG, "image/png"),
            ("id.jpeg", JPEG, "image/jpeg"),
        ],
    )
    def test_stores_accepted_files_under_media_root_by_sniffed_type(
        self, name, content, content_type, settings
    ):
        merchant = MerchantFactory.create()
        summary = _upload(merchant, name, content)
        row = KybDocument.objects.get(public_id=summary.document_id)
        assert row.content_type == content_type
        assert row.file.name.startswith(f"kyb/{merchant.public_id}/{summary.document_id}.")
        assert name not in row.file.name  # never the uploader's file name
        assert row.original_name == name
        stored = settings.MEDIA_ROOT / row.file.name
        assert stored.read_bytes() == content
        assert AuditEvent.objects.get(action="merchant.document_uploaded").object_id == (
            summary.document_id
        )

    @pytest.mark.parametrize(
        ("name", "content"),
        [
            ("invoice.pdf", b"MZ\x90\x00 this is an executable"),
            ("page.pdf", b"<html><script>alert(1)</script></html>"),
            ("scan.png", PDF),  # a real PDF wearing a PNG name
            ("cert", PDF),
        ],
    )
    def test_refuses_content_that_does_not_match_an_accepted_type(self, name, content):
        merchant = MerchantFactory.create()
        with pytest.raises(InvalidDocumentError) as excinfo:
            _upload(merchant, name, content)
        assert excinfo.value.param == "file"
        assert excinfo.value.http_status == 400
        assert not KybDocument.objects.exists()

    def test_refuses_a_file_over_the_size_limit_and_an_empty_file(self, settings):
        settings.KYB_DOCUMENT_MAX_BYTES = 1024
        merchant = MerchantFactory.create()
        with pytest.raises(InvalidDocumentError, match="larger"):
            _upload(merchant, "big.pdf", PDF + b"0" * 1024)
        with pytest.raises(InvalidDocumentError, match="empty"):
            _upload(merchant, "empty.pdf", b"")
        assert not KybDocument.objects.exists()

    def test_refuses_an_unknown_document_type(self):
        merchant = MerchantFactory.create()
        with pytest.raises(InvalidMerchantDataError) as excinfo:
            _upload(merchant, "cert.pdf", PDF, document_type="selfie")
        assert getattr(excinfo.value, "param", None) == "document_type"


class TestNoUrlServesMedia:
    def test_media_root_is_outside_static_and_no_route_serves_it(self, client):
        merchant = MerchantFactory.create()
        row = KybDocument.objects.get(public_id=_upload(merchant, "c.pdf", PDF).document_id)
        with pytest.raises(Resolver404):
            resolve(f"/media/{row.file.name}")
        assert client.get(f"/media/{row.file.name}").status_code == 404
        assert client.get(f"/{row.file.name}").status_code == 404


class TestOpenKybDocumentForStaff:
    def test_serves_the_file_and_audits_who_opened_it(self):
        merchant = MerchantFactory.create()
        summary = _upload(merchant, "c.pdf", PDF)
        opened = open_kyb_document_for_staff(
            document_id=summary.document_id, staff_user_id=5, ip_address="10.0.0.1"
        )
        try:
            assert opened.file.read() == PDF
        finally:
            opened.file.close()
        assert opened.download_name == f"{summary.document_id}.pdf"
        entry = AuditEvent.objects.get(action="merchant.document_accessed")
        assert (entry.actor_type, entry.actor_id, entry.object_id, entry.merchant_ref) == (
            "admin",
            "5",
            summary.document_id,
            merchant.public_id,
        )
        assert entry.ip_address == "10.0.0.1"

    def test_an_unknown_document_is_a_404(self):
        with pytest.raises(DocumentNotFoundError):
            open_kyb_document_for_staff(document_id="doc_missing", staff_user_id=5)
        assert not AuditEvent.objects.filter(action="merchant.document_accessed").exists()

    def test_a_file_missing_from_storage_is_a_404_and_the_attempt_is_audited(self, settings):
        merchant = MerchantFactory.create()
        summary = _upload(merchant, "c.pdf", PDF)
        row = KybDocument.objects.get(public_id=summary.document_id)
        (settings.MEDIA_ROOT / row.file.name).unlink()
        with pytest.raises(DocumentNotFoundError, match="missing"):
            open_kyb_document_for_staff(document_id=summary.document_id, staff_user_id=5)
        entry = AuditEvent.objects.get(action="merchant.document_accessed")
        assert entry.metadata["outcome"] == "file_missing"
