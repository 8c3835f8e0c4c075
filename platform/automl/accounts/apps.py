from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "automl.accounts"
    verbose_name = "Accounts"
