from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "lacrima.web.audit"
    label = "audit"
    verbose_name = "Audit log"
