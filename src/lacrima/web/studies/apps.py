from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "lacrima.web.studies"
    label = "studies"
    verbose_name = "Studies, sites, clients and invitations"
