from django.apps import AppConfig


class TokenizationConfig(AppConfig):
    name = "apps.tokenization"
    label = "tokenization"
    verbose_name = "Tokenization vault"
