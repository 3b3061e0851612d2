from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "lacrima.web.clinic"
    label = "clinic"
    verbose_name = "Clinic: caseload, client pages and alerts"

    def ready(self) -> None:
        from lacrima.web.clinic import checks  # noqa: F401  (registers the system checks)
