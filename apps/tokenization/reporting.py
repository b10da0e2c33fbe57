"""Django error reports that cannot carry card data (``DEFAULT_EXCEPTION_REPORTER_FILTER`` and
``DEFAULT_EXCEPTION_REPORTER`` point here).

Django's own filter hides what ``sensitive_post_parameters``/``sensitive_variables`` name, and
only when ``DEBUG`` is off. Card data deserves more, in every mode:

* on the vault's endpoints (``/v1/tokens``, ``/v1/payment_methods``) every POST parameter and
  every local variable of every frame is hidden: their requests carry card numbers and CVCs;
* everywhere else, any value that looks like a card number (a Luhn-valid 13-19 digit run) is
  masked to its last four digits, in POST data and in frame variables;
* the finished report (text and HTML: the 500 page, the AdminEmailHandler mail) is masked once
  more as a whole, so a card number in an exception message is caught too.
"""

from __future__ import annotations

from pprint import pformat
from types import FrameType
from typing import Any

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from apps.common.logging import mask_card_numbers

VAULT_PATH_PREFIXES = ("/v1/tokens", "/v1/payment_methods")


def is_vault_request(*, request: HttpRequest | None) -> bool:
    path = getattr(request, "path", "") or ""
    return path.startswith(VAULT_PATH_PREFIXES)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_card_numbers(value)
    if isinstance(value, bool | float) or value is None:
        return value
    if isinstance(value, int):
        masked_number = mask_card_numbers(str(value))
        return value if masked_number == str(value) else masked_number
    try:
        text = pformat(value)
    except Exception:  # a broken __repr__ must not break the report
        return "<unrepresentable value>"
    masked = mask_card_numbers(text)
    return value if masked == text else masked


class CardScrubbingExceptionReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request: HttpRequest | None) -> bool:
        # Card data is hidden with DEBUG on as well: developers' screens are not PCI scope.
        return True

    def get_post_parameters(self, request: HttpRequest | None) -> Any:
        parameters = super().get_post_parameters(request)
        if request is None:
            return parameters
        cleansed: Any = parameters.copy()
        for key in cleansed:
            if is_vault_request(request=request):
                cleansed[key] = self.cleansed_substitute
            else:
                cleansed.setlist(key, [_masked(value) for value in cleansed.getlist(key)])
        return cleansed

    def get_traceback_frame_variables(
        self, request: HttpRequest | None, tb_frame: FrameType
    ) -> Any:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        if is_vault_request(request=request):
            return [(name, self.cleansed_substitute) for name, _ in variables]
        return [(name, _masked(value)) for name, value in variables]


class CardScrubbingExceptionReporter(ExceptionReporter):
    """The report as Django builds it, with every card-number-like run masked in the output."""

    def get_traceback_text(self) -> SafeString:
        # Masking only turns digits into asterisks: what was safe stays safe.
        return mark_safe(mask_card_numbers(str(super().get_traceback_text())))  # noqa: S308

    def get_traceback_html(self) -> SafeString:
        return mark_safe(mask_card_numbers(str(super().get_traceback_html())))  # noqa: S308
