"""The demo clinic: two therapists, simulated clients, a planted course for every alert kind, credentials."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client as HttpClient
from django_tasks_db.models import DBTaskResult

from lacrima import feedback as fb
from lacrima.web.clinic.demo import PLANTED, queue_demo_evaluations, seed_demo_clinic
from lacrima.web.clinic.evaluate import refresh_client
from lacrima.web.clinic.models import Alert
from lacrima.web.deploy import DEMO_MARKER
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



def _sign_in(username: str, password: str):
    from django.test import Client as HttpClient

    c = HttpClient()
    r = c.post("/accounts/login/", {"username": username, "password": password}, follow=True)
    return r


def test_it_lets_demo_accounts_in_with_a_password_only_in_demo_mode_and_real_accounts_never(
    tmp_path, settings, world
) -> None:
    seed_demo_clinic(tmp_path, seed=7, n_clients=4)
    accounts = [line.split() for line in (tmp_path / "demo-credentials.txt").read_text().splitlines()]
    assert (tmp_path / DEMO_MARKER).is_file()  # what makes `lacrima serve --data DIR` run in demo mode
    real = world.therapist
    real.set_password("a real therapist's passphrase")
    real.save()
    settings.LACRIMA_DEMO = True
    for name, password in accounts[:2]:  # the therapists land on their caseload, no second factor asked
        r = _sign_in(name, password)
        assert r.redirect_chain[-1][0] == "/clinic/", name
        assert "<h1>Your caseload</h1>" in r.content.decode()
    r = _sign_in(*accounts[2])  # the researcher is sent on to the study list, also without one
    assert r.redirect_chain[-1][0].startswith("/studies/") and "/accounts/2fa/" not in r.redirect_chain[-1][0]
    r = _sign_in(real.username, "a real therapist's passphrase")  # a real account: always the second factor
    assert r.redirect_chain[-1][0].startswith("/accounts/2fa/")
    settings.LACRIMA_DEMO = False
    for name, password in accounts:  # demo mode off: the demo accounts need a second factor like any other
        r = _sign_in(name, password)
        assert r.redirect_chain[-1][0].startswith("/accounts/2fa/"), name


def test_it_turns_demo_mode_on_only_for_the_demos_own_data_directory(tmp_path) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from lacrima.web.deploy import demo_mode

    plain, demo = tmp_path / "plain", tmp_path / "demo"
    plain.mkdir()
    demo.mkdir()
    (demo / DEMO_MARKER).write_text("demo", encoding="utf-8")
    assert demo_mode(demo, env=None, database_url=None, production=False)
    assert not demo_mode(plain, env=None, database_url=None, production=False)
    assert not demo_mode(demo, env=None, database_url="postgresql://db/x", production=False)  # not its DB
    assert demo_mode(plain, env="1", database_url=None, production=False)
    for where, env in ((demo, None), (plain, "1")):
        with pytest.raises(ImproperlyConfigured, match="production refuses it"):
            demo_mode(where, env=env, database_url=None, production=True)


def test_the_login_page_says_what_the_second_factor_asks_in_and_out_of_demo_mode(settings) -> None:
    settings.LACRIMA_DEMO = False
    page = HttpClient().get("/accounts/login/").content.decode()
    assert "a code from your authenticator app" in page and "Demo mode" not in page
    settings.LACRIMA_DEMO = True
    page = HttpClient().get("/accounts/login/").content.decode()
    assert "Demo mode: the demo accounts sign in with their password only" in page
    hebrew = HttpClient(headers={"accept-language": "he"}).get("/accounts/login/").content.decode()
    assert "מצב הדגמה" in hebrew and 'dir="rtl"' in hebrew
