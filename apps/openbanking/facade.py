"""Public interface of the openbanking app: the only module other apps import (with contracts).

Consents, account information and pay by bank.
"""
