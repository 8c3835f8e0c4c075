from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "automl.accounts"
    verbose_name = "Accounts"

    def ready(self):
        from django.contrib import admin

        from automl.accounts.pages import AdminSignInForm

        admin.site.login_form = AdminSignInForm
