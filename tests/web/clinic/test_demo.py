"""The demo clinic: two therapists, simulated clients, a planted course for every alert kind, credentials."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django_tasks_db.models import DBTaskResult

from lacrima import feedback as fb
from lacrima.web.clinic.demo import PLANTED, queue_demo_evaluations, seed_demo_clinic
from lacrima.web.clinic.evaluate import refresh_client
from lacrima.web.clinic.models import Alert
from lacrima.web.participate.models import Response

pytestmark = pytest.mark.django_db


def test_it_seeds_a_clinic_with_every_alert_kind_and_working_credentials(tmp_path) -> None:
    clinic = seed_demo_clinic(tmp_path, seed=7, n_clients=8)
    lines = (tmp_path / "demo-credentials.txt").read_text().splitlines()
    names = [line.split()[0] for line in lines]
    assert names == ["demo-therapist", "demo-therapist-2", "demo-researcher"]
    for line in lines:
        name, password = line.split()
        user = User.objects.get(username=name)
        assert user.check_password(password) and user.security.demo_account
    clients = list(clinic.study.clients.order_by("code"))
    assert len(clients) == 8 and {c.therapist.username for c in clients} == {
        "demo-therapist",
        "demo-therapist-2",
    }
    per_client = [Response.objects.filter(client=c, kind="checkin").count() for c in clients]
    assert min(per_client) >= 10 and max(per_client) <= 40
    for client in clients:
        refresh_client(client, notify=False)
    for code, kind in PLANTED.items():
        assert Alert.objects.filter(client__code=code, kind=kind).exists(), (code, kind)
    assert set(Alert.objects.values_list("kind", flat=True)) == set(fb.ALERT_KINDS)


def test_it_queues_each_demo_client_once_for_the_worker(tmp_path) -> None:
    clinic = seed_demo_clinic(tmp_path, seed=7, n_clients=6)
    assert queue_demo_evaluations(clinic.study) == 6
    queue_demo_evaluations(clinic.study)  # again: the waiting tasks are not doubled
    assert DBTaskResult.objects.filter(task_path__endswith="compute_alerts").count() == 6
