"""E-mail to the treating therapist when a risk item or an alliance rupture is found.

The message carries no clinical data: no client code, no scores, no alert kind beyond "needs your
attention"; only a link to the client page behind the login. Sent through Django's e-mail framework
(console back-end in development, SMTP from the environment in production).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from lacrima.web.clinic.models import Alert
from lacrima.web.studies.models import Client

log = logging.getLogger("lacrima.clinic")


def notify_new_alerts(client: Client, alerts: list[Alert]) -> int:
    """Send one e-mail for the new alerts that call for it; returns the number of messages sent."""
    if not alerts:
        return 0
    therapist = client.therapist
    if therapist is None or not therapist.email:
        log.warning("alert for a client with no therapist e-mail (client id %s); nothing sent", client.pk)
        return 0
    path = reverse("clinic:alert", kwargs={"alert_id": alerts[0].pk})
    link = settings.LACRIMA_SITE_URL.rstrip("/") + path
    body = (
        "A client on your caseload has a new alert that needs your attention.\n\n"
        f"Open it after logging in: {link}\n\n"
        "This message deliberately contains no clinical information.\n"
    )
    sent = send_mail(
        "lacrima: a new alert needs your attention",
        body,
        settings.DEFAULT_FROM_EMAIL,
        [therapist.email],
        fail_silently=False,
    )
    Alert.objects.filter(pk__in=[a.pk for a in alerts]).update(notified_at=timezone.now())
    return sent
