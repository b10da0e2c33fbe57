"""Sign-up forms: the applicant, the business, its beneficial owners and KYB documents.

They shape and pre-check input for a friendly page; the services decide what is valid.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from apps.common.errors import InvalidRequestError
from apps.common.money import normalize_currency
from apps.merchants.models import KybDocumentType


def _text(label: str, *, required: bool = True, max_length: int = 200, **attrs: Any) -> Any:
    return forms.CharField(
        label=label,
        required=required,
        max_length=max_length,
        widget=forms.TextInput(attrs=attrs),
    )


class SignUpForm(forms.Form):
    email = forms.EmailField(
        label="Your work email",
        max_length=150,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        help_text="At least 12 characters; not a common or all-numeric password.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "minlength": 12}),
    )
    password_confirmation = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    legal_name = _text("Legal name of the business", autocomplete="organization")
    trading_name = _text("Trading name (shown to your customers)")
    country = _text(
        "Country of incorporation (2-letter code, e.g. IT)", max_length=2, autocomplete="country"
    )
    registration_number = _text("Company registration number", required=False, max_length=64)
    vat_id = _text("VAT number", required=False, max_length=32)
    mcc = _text(
        "Merchant category code (MCC, 4 digits)", required=False, max_length=4, inputmode="numeric"
    )
    website = forms.URLField(
        label="Website",
        required=False,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"autocomplete": "url"}),
    )
    support_email = forms.EmailField(
        label="Support email for your customers", widget=forms.EmailInput()
    )
    settlement_currency = _text("Settlement currency (e.g. EUR)", max_length=3)
    expected_monthly_volume = forms.IntegerField(
        label="Expected monthly volume (whole units of the settlement currency)",
        min_value=0,
        max_value=10**12,
        initial=0,
    )

    def clean_country(self) -> str:
        return str(self.cleaned_data["country"]).strip().upper()

    def clean_settlement_currency(self) -> str:
        try:
            return normalize_currency(currency=self.cleaned_data["settlement_currency"])
        except InvalidRequestError as exc:
            raise ValidationError(exc.message) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("password")
        if password and password != cleaned.get("password_confirmation"):
            self.add_error("password_confirmation", "The two passwords differ.")
        elif password and cleaned.get("email"):
            from django.contrib.auth import get_user_model

            candidate = get_user_model()(username=cleaned["email"], email=cleaned["email"])
            try:
                validate_password(password, user=candidate)
            except ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class BeneficialOwnerForm(forms.Form):
    full_name = _text("Full name", autocomplete="off")
    date_of_birth = forms.DateField(
        label="Date of birth", widget=forms.DateInput(attrs={"type": "date"})
    )
    nationality = _text("Nationality (2-letter code)", max_length=2)
    ownership_percent = forms.DecimalField(
        label="Ownership (%)",
        min_value=Decimal("0.01"),
        max_value=Decimal(100),
        max_digits=5,
        decimal_places=2,
    )

    def clean_nationality(self) -> str:
        return str(self.cleaned_data["nationality"]).strip().upper()


class KybDocumentForm(forms.Form):
    document_type = forms.ChoiceField(
        label="Document type",
        required=False,
        choices=[("", "—"), *KybDocumentType.choices],
    )
    file = forms.FileField(
        label="File (PDF, PNG or JPEG)",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("file") and not cleaned.get("document_type"):
            self.add_error("document_type", "Choose what this document is.")
        if cleaned.get("document_type") and not cleaned.get("file"):
            self.add_error("file", "Choose a file, or leave the document type empty.")
        return cleaned


BeneficialOwnerFormSet = forms.formset_factory(
    BeneficialOwnerForm, extra=1, min_num=1, validate_min=True, max_num=10, validate_max=True
)
KybDocumentFormSet = forms.formset_factory(KybDocumentForm, extra=2, max_num=10, validate_max=True)

# Where a service error's ``param`` is shown on the page.
PARAM_TO_FIELD = {
    "email": "email",
    "password": "password",
    "legal_name": "legal_name",
    "trading_name": "trading_name",
    "country": "country",
    "currency": "settlement_currency",
    "settlement_currency": "settlement_currency",
    "support_email": "support_email",
    "registration_number": "registration_number",
    "vat_id": "vat_id",
    "mcc": "mcc",
    "website": "website",
    "expected_monthly_volume": "expected_monthly_volume",
}
