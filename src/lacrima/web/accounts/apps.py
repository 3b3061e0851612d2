from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "lacrima.web.accounts"
    label = "accounts"
    verbose_name = "Staff accounts and roles"

    def ready(self) -> None:
        from lacrima.web import redact
        from lacrima.web.accounts import signals  # noqa: F401  (connects the audit receivers)

        redact.install()
