import io
import json
import logging

import pytest

from apps.common.logging import (
    CardNumberMaskingFilter,
    JsonFormatter,
    RequestIdFilter,
    mask_card_numbers,
    passes_luhn,
)
from apps.common.request_context import set_request_id


@pytest.fixture
def json_logger():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(CardNumberMaskingFilter())
    handler.setFormatter(
        JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s")
    )
    logger = logging.getLogger("paymenthub.tests.logging")
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True
    set_request_id(None)


class TestMaskCardNumbers:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("card 4242424242424242 ok", "card ************4242 ok"),
            ("card 4242 4242 4242 4242", "card ************4242"),
            ("card 5555-5555-5555-4444.", "card ************4444."),
            ("amex 378282246310005", "amex ***********0005"),
            ("19 digits 6011111111111111110", "19 digits ***************1110"),
        ],
    )
    def test_masks_luhn_valid_card_numbers_keeping_the_last_four(self, text, expected):
        assert mask_card_numbers(text) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "order 4242424242424241 fails luhn",
            "amount 1050 EUR",
            "timestamp 1732460000123",  # 13 digits, not Luhn-valid
            "twenty digits 42424242424242424242",
        ],
    )
    def test_leaves_other_digit_runs_alone(self, text):
        assert mask_card_numbers(text) == text

    def test_luhn(self):
        assert passes_luhn(digits="4242424242424242")
        assert not passes_luhn(digits="4242424242424243")


class TestLogRecords:
    def test_are_json_with_the_request_id_and_no_card_number(self, json_logger):
        logger, stream = json_logger
        set_request_id("req_abc123456")
        logger.warning("charging %s for %s", "4000 0025 0000 3155", {"pan": "4242424242424242"})
        line = json.loads(stream.getvalue().strip())
        assert line["request_id"] == "req_abc123456"
        assert line["levelname"] == "WARNING"
        assert "4000002500003155" not in line["message"].replace(" ", "")
        assert "4242424242424242" not in stream.getvalue()
        assert "3155" in line["message"]

    def test_mask_card_numbers_in_tracebacks_and_extra_fields(self, json_logger):
        logger, stream = json_logger
        try:
            pan = "4242424242424242"
            raise ValueError(f"processor rejected {pan}")
        except ValueError:
            logger.exception("payment failed", extra={"card": "5555555555554444"})
        output = stream.getvalue()
        assert "4242424242424242" not in output
        assert "5555555555554444" not in output
        line = json.loads(output.strip())
        assert "processor rejected ************4242" in line["exc_info"]
        assert line["card"] == "************4444"


class TestUrlSecrets:
    def test_an_invitation_links_token_is_redacted_from_a_logged_path(self, json_logger):
        logger, stream = json_logger
        token = "i1BvH1i2kQ7pZx_-Lm0abc"
        logger.warning("Bad Request: %s", f"/portal/team/invitations/{token}/")
        output = stream.getvalue()
        assert token not in output
        assert "/portal/team/invitations/[redacted]/" in output

    def test_every_record_reaches_the_log_through_the_masking_filter(self):
        from django.conf import settings

        logging_config = settings.LOGGING
        assert logging_config["root"]["handlers"] == ["console"]
        assert "mask_card_numbers" in logging_config["handlers"]["console"]["filters"]
        for name, config in logging_config["loggers"].items():
            assert "handlers" not in config, name  # every logger propagates to the root's
