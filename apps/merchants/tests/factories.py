import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.utils import timezone

from apps.common.ids import make_public_id
from apps.merchants.models import Merchant, MerchantStatus


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.SelfAttribute("username")
    password = factory.django.Password("correct horse battery staple")


class MerchantFactory(factory.django.DjangoModelFactory[Merchant]):
    class Meta:
        model = Merchant

    public_id = factory.LazyFunction(lambda: make_public_id(prefix="mch"))
    legal_name = factory.Sequence(lambda n: f"Merchant {n} S.r.l.")
    trading_name = factory.Sequence(lambda n: f"Shop {n}")
    country = "IT"
    settlement_currency = "EUR"
    support_email = factory.Sequence(lambda n: f"support{n}@shop.example")
    status = MerchantStatus.ACTIVE
    created_at = factory.LazyFunction(timezone.now)
