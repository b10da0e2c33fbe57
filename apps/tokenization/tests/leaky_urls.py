"""Test-only URLconf for the leak scan: views that crash with card data in hand, the way a
careless view elsewhere in the platform might. Never routed in the project."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def crash_with_a_card_number_in_a_local_variable(request: HttpRequest) -> HttpResponse:
    card_number = request.POST.get("card_number", "")
    attempt = {"card_number": card_number, "note": f"retrying {card_number}"}
    raise RuntimeError(f"processor exploded while charging {card_number} ({len(attempt)})")


def crash_inside_the_vault_prefix(request: HttpRequest) -> HttpResponse:
    number, cvc = request.POST.get("number", ""), request.POST.get("cvc", "")
    raise RuntimeError(f"vault exploded ({len(number) + len(cvc)})")


urlpatterns = [
    path("", include("paymenthub.urls")),
    path("test-only/crash", crash_with_a_card_number_in_a_local_variable),
    path("v1/tokens-test-only/crash", crash_inside_the_vault_prefix),
]
