from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "lacrima.web.clinic"
    label = "clinic"
    verbose_name = "Clinic: caseload, client pages and alerts"
