"""Which connector speaks to which bank: by the bank's configured ``connector``."""

from __future__ import annotations

from apps.common.errors import InvalidRequestError
from apps.openbanking.conf import BankConfig, get_banks
from apps.openbanking.connectors.base import BankConnector
from apps.openbanking.connectors.obie import ObieV4Connector


def get_bank_config(*, bank_code: str) -> BankConfig:
    bank = get_banks().get(bank_code)
    if bank is None:
        raise InvalidRequestError(
            code="bank_unknown", message=f"No bank {bank_code!r} is configured.", param="bank"
        )
    return bank


def get_connector(*, bank_code: str) -> BankConnector:
    bank = get_bank_config(bank_code=bank_code)
    if bank.connector == "obie_v4":
        return ObieV4Connector(bank=bank)
    raise InvalidRequestError(code="bank_unknown", message="This bank has no connector.")
