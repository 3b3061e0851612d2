"""Collection from the staff side: licensed texts, counts, enrolment, links, session corrections, exports,
and the page and the API refusing the same answers with the same messages."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from django.test import Client as HttpClient
from django.utils import timezone, translation
from django.utils.translation import gettext

from lacrima.instruments import load_instrument
from lacrima.web.accounts.models import ApiToken, Membership
from lacrima.web.audit.models import AuditEvent
from lacrima.web.participate.forms import build_pages
from lacrima.web.participate.models import Consent, Response
from lacrima.web.studies.models import Client, ConsentVersion, Invitation, LicensedText
from web_licensed import licensed, texts_file

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------ licensed texts


def _upload(c: HttpClient, raw: bytes, action: str = "preview", **extra: str) -> object:
    data = {"instrument": "wai_sr", "language": "he", "licence_statement": "WAI-SR, SPR permission 2026"}
    data.update(extra)
    data["file"] = io.BytesIO(raw)  # type: ignore[assignment]
    data["file"].name = "wai_sr_he.yaml"  # type: ignore[union-attr]
    data["action"] = action
    return c.post("/studies/cry-2026/licensed-texts/", data)


def test_it_previews_then_attaches_licensed_texts_with_who_and_the_licence(world) -> None:
    c = world.login(world.admin)
    r = _upload(c, texts_file("wai_sr", "he"))
    html = r.content.decode()  # type: ignore[attr-defined]
    assert r.status_code == 200 and "משפט מורשה לבדיקה מספר 12" in html  # type: ignore[attr-defined]
    assert not LicensedText.objects.exists()  # a preview stores nothing
    r = _upload(c, texts_file("wai_sr", "he"), action="attach")
    assert r.status_code == 302  # type: ignore[attr-defined]
    row = LicensedText.objects.get(study=world.study, instrument="wai_sr", language="he")
    assert row.attached_by == world.admin and row.licence_statement == "WAI-SR, SPR permission 2026"
    assert len(row.texts) == 12 and row.texts["wai_03"] == "משפט מורשה לבדיקה מספר 3"
    event = AuditEvent.objects.get(object_type="studies.licensedtext")
    assert event.actor == world.admin and event.detail["items"] == 12
    assert (
        "12 item texts of wai_sr (he) attached."
        in c.get("/studies/cry-2026/licensed-texts/").content.decode()
    )


def test_it_refuses_a_bad_texts_file_whole_listing_every_problem(world) -> None:
    c = world.login(world.admin)
    good = texts_file("wai_sr", "he").decode().splitlines()
    bad = [line for line in good if not line.startswith(("  4:", "  5:"))]  # items 4, 5 missing
    bad = [line.replace("מספר 7", "<b>מספר 7</b>") for line in bad]  # HTML in item 7
    bad.append('  99: {he: "no such item"}')  # 11 items in all
    bad = [line.replace("{he:", "{xx:") if line.startswith("  9:") else line for line in bad]
    r = _upload(c, "\n".join(bad).encode(), action="attach")
    html = r.content.decode()  # type: ignore[attr-defined]
    assert r.status_code == 422  # type: ignore[attr-defined]
    for part in (
        "column &#x27;wai_04&#x27;: missing from the file",
        "column &#x27;wai_05&#x27;: missing from the file",
        "the file has 11 items; Working Alliance",
        "column &#x27;wai_07&#x27;: contains HTML markup",
        "item 99 is not an item of wai_sr",
        "column &#x27;wai_09&#x27;: unknown language &#x27;xx&#x27;",
    ):
        assert part in html, part
    assert not LicensedText.objects.exists()


def test_it_lets_only_a_study_admin_attach_texts(world) -> None:
    for user in (world.researcher, world.therapist, world.outsider):
        r = _upload(world.login(user), texts_file("wai_sr", "he"), action="attach")
        assert r.status_code == 404  # type: ignore[attr-defined]
    assert not LicensedText.objects.exists()


def test_it_never_shows_an_item_id_as_a_question(world) -> None:
    world.study.survey_instruments = ["wai_sr"]  # set as the admin or a script might, past every form
    world.study.save()
    _, token = world.invite()
    c = HttpClient()
    c.get(f"/p/{token}/?lang=he")
    c.post(f"/p/{token}/consent/", {"action": "agree"})
    r = c.get(f"/p/{token}/survey/")
    assert r.status_code == 503 and "wai_0" not in r.content.decode()
    assert "wai_sr (he)" in world.login(world.admin).get("/studies/cry-2026/").content.decode()
    licensed(world.study, "wai_sr", "he")
    r = c.get(f"/p/{token}/survey/")
    assert r.status_code == 200 and "משפט מורשה לבדיקה מספר 1<" in r.content.decode()


# ------------------------------------------------------------------ page and API, same messages


BAD_CHECKINS = [
    {"cried": "9", "chk_07": "5", "chk_08": "5"},  # not an answer
    {"cried": "1", "chk_02": "8", "chk_03": "2", "chk_07": "5", "chk_08": "5"},  # out of the 1-7 scale
    {"cried": "0", "chk_07": "5"},  # too few alliance items for the prorating rule
    {"chk_07": "5", "chk_08": "6"},  # the required gate unanswered
    {},  # a blank page
]


@pytest.mark.parametrize("bad", BAD_CHECKINS)
def test_it_refuses_the_same_answers_with_the_same_messages_on_the_page_and_the_api(world, bad) -> None:
    _, token = world.invite(kind="checkin", client=world.client)
    c = HttpClient()
    c.get(f"/p/{token}/?lang=he")
    c.post(f"/p/{token}/consent/", {"action": "agree"})
    page = c.post(f"/p/{token}/checkin/", {"idempotency_key": "page-key-01", **bad})
    assert page.status_code == 422
    form = page.context["form"]
    page_errors = {k: [str(m) for m in v] for k, v in form.errors.items()}
    api = HttpClient().post(
        "/api/checkins",
        data=json.dumps({"idempotency_key": "api-key-0001", "answers": {k: int(v) for k, v in bad.items()}}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert api.status_code == 422
    body = api.json()
    api_errors = {k: [v] for k, v in body["errors"].items()}
    if "__all__" in page_errors:
        api_errors["__all__"] = [body["detail"]]
    assert api_errors == {k: v[:1] for k, v in page_errors.items()}
    assert page_errors  # something was refused
    assert not Response.objects.filter(kind="checkin").exists()


# ------------------------------------------------------------------ counts


def test_it_counts_completion_once_per_person_and_wave(world) -> None:
    """A seeded study; every expected number below is counted by hand from the seeding."""
    version = ConsentVersion.objects.get(study=world.study, language="he")
    links = [world.invite(site=world.site_il)[0] for _ in range(4)]
    wave2 = world.invite(site=world.site_il)[0]
    wave2.wave = 2
    wave2.save()
    it_links = [world.invite(site=world.site_it)[0] for _ in range(2)]
    now = timezone.now()

    def consent(inv: Invitation, agreed: bool = True, client: Client | None = None) -> Consent:
        return Consent.objects.create(
            invitation=inv, client=client, version=version, language="he", agreed=agreed
        )

    def survey(inv: Invitation, done: bool) -> None:
        Response.objects.create(
            study=world.study, site=inv.site, invitation=inv, kind="survey", wave=inv.wave, language="he",
            answers={}, completed_at=now if done else None,
        )  # fmt: skip

    consent(links[0]), consent(links[0])  # the consent page sent twice: one person
    survey(links[0], done=True)
    consent(links[1])
    survey(links[1], done=False)
    consent(links[2], agreed=False)  # declined
    consent(links[3], agreed=False), consent(links[3])  # declined, then agreed: consented
    Consent.objects.filter(invitation=links[3]).update(withdrawn_at=now)
    consent(wave2)
    survey(wave2, done=True)
    consent(it_links[0])
    survey(it_links[0], done=True)
    # clients: C001 consents twice and has check-ins; the check-in consents never count for surveys
    checkin_inv, _ = world.invite(kind="checkin", client=world.client)
    consent(checkin_inv, client=world.client), consent(checkin_inv, client=world.client)
    for n in (1, 2, 3):
        Response.objects.create(
            study=world.study, site=world.site_il, client=world.client, invitation=checkin_inv,
            kind="checkin", session=n, language="he", answers={"cried": 0}, completed_at=now,
            idempotency_key=f"k{n}",
        )  # fmt: skip
    world.other_client.withdrawn_at = now
    world.other_client.save()

    r = world.login(world.admin).get("/studies/cry-2026/")
    rows = {(row["site"].code, row["wave"]): row for row in r.context["completion"]}
    keys = ("invited", "consented", "declined", "completed", "withdrawn")
    assert {k: rows[("tlv", 1)][k] for k in keys} == dict(zip(keys, (4, 3, 1, 1, 1), strict=True))
    assert {k: rows[("tlv", 2)][k] for k in keys} == dict(zip(keys, (1, 1, 0, 1, 0), strict=True))
    assert {k: rows[("roma", 1)][k] for k in keys} == dict(zip(keys, (2, 1, 0, 1, 0), strict=True))
    clients = {row["site"].code: row for row in r.context["client_counts"]}
    assert clients["tlv"] == {**clients["tlv"], "enrolled": 2, "consented": 1, "withdrawn": 1, "checkins": 3}
    assert clients["roma"]["enrolled"] == 0 and clients["roma"]["checkins"] == 0


# ------------------------------------------------------------------ enrolment, links, set-up


def test_it_offers_only_the_sites_therapists_when_enrolling(world) -> None:
    from django.contrib.auth.models import User

    roman = User.objects.create_user("dr_rossi", password="x")
    Membership.objects.create(user=roman, study=world.study, site=world.site_it, role="therapist")
    form = world.login(world.researcher).get("/studies/cry-2026/clients/new/").context["form"]
    offered = {u.username for u in form.fields["therapist"].queryset}
    assert offered == {"therapist", "other_therapist"}  # the researcher's site, Tel Aviv
    c = world.login(world.admin)
    data = {"code": "C900", "site": world.site_il.pk, "therapist": roman.pk, "language": "he"}
    r = c.post("/studies/cry-2026/clients/new/", data)
    assert r.status_code == 200 and "dr_rossi is not a therapist at Tel Aviv" in r.content.decode()
    data["therapist"] = world.therapist.pk
    r = c.post("/studies/cry-2026/clients/new/", data)
    assert "Client C900 enrolled." in r.content.decode()


def test_it_makes_survey_links_with_the_studys_lifetime_and_as_csv(world) -> None:
    world.study.invitation_days = 12
    world.study.save()
    c = world.login(world.admin)
    form = c.get("/studies/cry-2026/invitations/new/").context["form"]
    assert form["days"].value() == 12
    html = c.get("/studies/cry-2026/invitations/new/").content.decode()
    assert 'name="format" value="csv"' in html
    data = {"site": world.site_il.pk, "count": 3, "days": 12, "format": "csv"}
    r = c.post("/studies/cry-2026/invitations/new/", data)
    frame = pd.read_csv(io.BytesIO(r.content))
    assert list(frame.columns) == ["link"] and len(frame) == 3
    inv = Invitation.objects.filter(kind="survey").latest("pk")
    assert (inv.expires_at - inv.created_at).days == 11 or (inv.expires_at - inv.created_at).days == 12


def test_it_lists_consent_versions_and_confirms_saves(world) -> None:
    c = world.login(world.admin)
    r = c.post("/studies/cry-2026/consent/new/", {"language": "it", "text": "Nuovo testo"}, follow=True)
    html = r.content.decode()
    assert "Consent text version 2 (it) saved." in html
    table = html.split('id="consents"')[1].split("</table>")[0]
    assert table.count("<tr>") == 1 + 4  # header and he v1, it v2, it v1, en v1


def test_it_validates_and_saves_a_schedule_on_the_study(world) -> None:
    c = world.login(world.admin)
    data = {
        "title": world.study.title, "kind": "both", "survey_instruments": "crying_in_therapy, change",
        "checkin_instruments": ["session_checkin"], "invitation_days": 30, "contact": "team@example.org",
        "schedule": json.dumps({"intake": ["phq9"], "repeated": [{"instruments": ["gad7"], "first": 0}]}),
    }  # fmt: skip
    r = c.post("/studies/cry-2026/edit/", data)
    assert r.status_code == 200 and "first must be a session number" in r.content.decode()
    data["schedule"] = json.dumps({"intake": ["phq9"], "repeated": [{"instruments": ["gad7"], "first": 2}]})
    r = c.post("/studies/cry-2026/edit/", data, follow=True)
    assert "Study set-up saved." in r.content.decode() and "gad7: after session 2" in r.content.decode()
    world.study.refresh_from_db()
    assert world.study.schedule["intake"] == ["phq9"] and world.study.contact == "team@example.org"
    assert world.login(world.researcher).get("/studies/cry-2026/edit/").status_code == 404


# ------------------------------------------------------------------ session corrections


def test_it_lets_the_treating_therapist_correct_a_session_number(world) -> None:
    inv, _ = world.invite(kind="checkin", client=world.client)
    resp = Response.objects.create(
        study=world.study, site=world.site_il, client=world.client, invitation=inv, kind="checkin",
        session=500, language="he", answers={"cried": 0}, completed_at=timezone.now(), idempotency_key="k500",
    )  # fmt: skip
    url = f"/studies/cry-2026/clients/C001/checkins/{resp.pk}/session/"
    assert world.login(world.other_therapist).post(url, {"session": 5, "reason": "x"}).status_code == 404
    assert world.login(world.researcher).post(url, {"session": 5, "reason": "x"}).status_code == 404
    r = world.login(world.therapist).post(url, {"session": 5, "reason": "typed 500 for 5"})
    assert r.status_code == 302
    resp.refresh_from_db()
    assert resp.session == 5
    event = AuditEvent.objects.get(action="update", object_type="participate.response")
    assert event.detail == {"field": "session", "old": 500, "new": 5, "reason": "typed 500 for 5"}
    from lacrima.web.participate.checkins import next_session

    assert next_session(world.client.pk) == 6


# ------------------------------------------------------------------ exports


def _respondent_with_clashing_answers(world) -> None:
    inv, _ = world.invite(site=world.site_il)
    answers = {"country": "US", "language": "it", "gender": "woman", "site": "roma", "wave": 9, "cry_05": 4}
    Response.objects.create(
        study=world.study, site=world.site_il, invitation=inv, kind="survey", language="he", wave=1,
        instruments=["demographics", "crying_in_therapy"], answers=answers, completed_at=timezone.now(),
    )  # fmt: skip


def _check(frame: pd.DataFrame) -> None:
    row = frame.iloc[0]
    assert (row["site"], row["country"], row["language"], int(row["wave"])) == ("tlv", "IL", "he", 1)
    assert (row["dem_country"], row["dem_language"]) == ("US", "it")
    assert (row["answer_site"], int(row["answer_wave"])) == ("roma", 9)
    assert row["gender"] == "woman" and int(row["cry_05"]) == 4
    assert list(frame.columns).count("country") == 1


@pytest.mark.parametrize("fmt", ["csv", "sav", "parquet"])
def test_it_never_lets_an_answer_replace_a_system_column_in_a_download(world, fmt, tmp_path) -> None:
    _respondent_with_clashing_answers(world)
    r = world.login(world.admin).get(f"/studies/cry-2026/export/respondents.{fmt}")
    assert r.status_code == 200
    if fmt == "csv":
        frame = pd.read_csv(io.BytesIO(r.content))
    elif fmt == "parquet":
        frame = pd.read_parquet(io.BytesIO(r.content))
    else:
        import pyreadstat

        path = tmp_path / "export.sav"
        path.write_bytes(r.content)
        frame, _meta = pyreadstat.read_sav(str(path))
    _check(frame)


def test_it_never_lets_an_answer_replace_a_system_column_in_the_api_export(world) -> None:
    _respondent_with_clashing_answers(world)
    _, token = ApiToken.issue(world.admin)
    r = HttpClient().get("/api/studies/cry-2026/export/respondents", HTTP_AUTHORIZATION=f"Bearer {token}")
    _check(pd.DataFrame(r.json()))


# ------------------------------------------------------------------ translations


def test_it_has_every_interface_text_translated_in_hebrew_and_italian() -> None:
    from lacrima.web.catalogs import LOCALE_DIR

    polib = pytest.importorskip("polib")
    for lang in ("he", "it"):
        po = polib.pofile(str(LOCALE_DIR / lang / "LC_MESSAGES" / "django.po"))
        assert len(po) > 30
        assert [e.msgid for e in po.untranslated_entries()] == [], lang
        assert [e.msgid for e in po.fuzzy_entries()] == [], lang
    with translation.override("it"):
        assert gettext("Save and continue") == "Salva e continua"


def test_it_labels_options_from_the_instrument_not_the_catalog(world) -> None:
    pages = build_pages([load_instrument("gad7")])
    from lacrima.web.participate.forms import InstrumentPageForm

    with translation.override("it"):
        form = InstrumentPageForm(entries=pages[0].entries, language="it")
    labels = [label for _value, label in form.fields["gad_01"].choices]
    assert labels == [load_instrument("gad7").scale.labels[v]["it"] for v in (0, 1, 2, 3)]


def test_it_checks_a_study_changed_in_the_admin_with_the_same_rules(world) -> None:
    from django.contrib.auth.models import User

    root = User.objects.create_superuser("root", password="x")
    c = world.login(root)
    url = f"/admin/studies/study/{world.study.pk}/change/"
    assert c.get(url).status_code == 200
    data = {
        "slug": "cry-2026", "title": "Crying", "kind": "survey", "survey_instruments": "wai_99",
        "invitation_days": 30, "schedule": json.dumps({"intake": ["nope"]}), "contact": "",
        "sites-TOTAL_FORMS": "0", "sites-INITIAL_FORMS": "0",
    }  # fmt: skip
    html = c.post(url, data).content.decode()
    assert "&#x27;wai_99&#x27; is not a survey instrument" in html
    assert "&#x27;nope&#x27; is not an instrument" in html
