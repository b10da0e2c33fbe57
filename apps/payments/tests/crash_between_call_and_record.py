"""Run by a test as a separate process: confirm a payment and die (``os._exit``) right after
the processor answered, before the answer is recorded, the way a ``kill -9`` or a power cut
would. Usage: ``python -m apps.payments.tests.crash_between_call_and_record <merchant> <pay>``.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    import django

    django.setup()
    from apps.payments import services

    def die_before_recording(**_: object) -> None:
        os._exit(9)

    services._record_authorization = die_before_recording  # type: ignore[assignment]
    merchant_id, payment_id = sys.argv[1], sys.argv[2]
    services.confirm_payment(merchant_id=merchant_id, mode="test", payment_id=payment_id)
    sys.exit("the process was meant to die before recording")


if __name__ == "__main__":
    main()
