"""Public interface of the checkout app: the only module other apps import (with contracts).

Checkout sessions and the hosted payment page.
"""
