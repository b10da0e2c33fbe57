import pytest

from apps.checkout.tests.helpers import make_merchant


@pytest.fixture
def merchant_id(db) -> str:
    return make_merchant()
