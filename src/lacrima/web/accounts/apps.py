from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "lacrima.web.accounts"
    label = "accounts"
    verbose_name = "Staff accounts and roles"
