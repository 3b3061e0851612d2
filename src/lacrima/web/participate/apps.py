from django.apps import AppConfig


class ParticipateConfig(AppConfig):
    name = "lacrima.web.participate"
    label = "participate"
    verbose_name = "Participant consent, surveys and check-ins"
