"""Logging pieces: JSON lines, the request id on every record, and card numbers masked.

:class:`CardNumberMaskingFilter` replaces every Luhn-valid run of 13-19 digits (spaces or
dashes allowed between digits) with a mask that keeps only the last four, in the message,
its arguments and any traceback text, before any handler formats the record.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from apps.common.request_context import get_request_id

_CANDIDATE = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")


def passes_luhn(*, digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def mask_card_numbers(text: str) -> str:
    """Mask every Luhn-valid 13-19 digit run in ``text``, keeping the last four digits."""

    def _replace(match: re.Match[str]) -> str:
        run = match.group(0)
        digits = run.replace(" ", "").replace("-", "")
        if not 13 <= len(digits) <= 19 or not passes_luhn(digits=digits):
            return run
        return "*" * (len(digits) - 4) + digits[-4:]

    if not any(ch.isdigit() for ch in text):
        return text
    return _CANDIDATE.sub(_replace, text)


def contains_card_number(text: str) -> bool:
    """Whether ``text`` holds what looks like a payment card number: a Luhn-valid run of 13-19
    digits (spaces or dashes allowed between them) starting as the card networks' numbers do
    (2-6). Free-text fields refuse such values: card numbers live only in the vault."""
    if not any(ch.isdigit() for ch in text):
        return False
    for match in _CANDIDATE.finditer(text):
        digits = match.group(0).replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and passes_luhn(digits=digits):
            return True
    return False


# Bearer secrets that travel in a URL path: an invitation link's token (only its SHA-256 is
# stored; whoever has it may join the merchant). Django logs the path of every 4xx/5xx.
_URL_SECRETS = re.compile(r"(/portal/team/invitations/)[0-9A-Za-z_-]{8,}")


def mask_log_text(text: str) -> str:
    """``text`` with card numbers masked and URL bearer secrets redacted."""
    return mask_card_numbers(_URL_SECRETS.sub(r"\1[redacted]", text))


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_log_text(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**12:
        return mask_card_numbers(str(value))
    if isinstance(value, dict):
        return {key: _mask_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask_value(item) for item in value)
    return value


class CardNumberMaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record still must not leak digits
            message = str(record.msg)
        record.msg = mask_log_text(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = mask_log_text(
                "".join(traceback.format_exception(*record.exc_info))
            ).rstrip("\n")
            record.exc_info = None
        if record.stack_info:
            record.stack_info = mask_log_text(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS:
                record.__dict__[key] = _mask_value(value)
        return True


_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "request_id",
}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = get_request_id() or "-"
        return True


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line; the masked traceback (``exc_text``) goes in ``exc_info``."""

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data.setdefault("level", record.levelname)
        if record.exc_text and "exc_info" not in log_data:
            log_data["exc_info"] = record.exc_text
