"""Browser tests: a participant on a phone (390 px) in Debian's chromium driven by Playwright: consent, a
Hebrew intake survey with WAI-SR (licensed text attached by the study admin) and PHQ-9, then a check-in.
Every option's label is checked to be visible; screenshots go to test-artifacts/."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.utils import translation
from django.utils.translation import gettext

from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, needs_chromium
from lacrima.instruments import load_instrument
from lacrima.web.participate.models import Response
from web_licensed import licensed_wai

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), needs_chromium]


def he(msgid: str) -> str:
    with translation.override("he"):
        return gettext(msgid)


@pytest.fixture
def page() -> Iterator[object]:
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the ORM is used beside Playwright's event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
        )
        pg = context.new_page()
        yield pg
        context.close()
        browser.close()


def _labels_visible(page: object) -> int:
    """Assert that every option of every shown question has a visible, non-empty label on screen."""
    labels = page.locator("fieldset:visible .choices label")  # type: ignore[attr-defined]
    for i in range(labels.count()):
        label = labels.nth(i)
        text = label.inner_text().strip()
        box = label.locator("span").bounding_box()
        assert text, f"option {i} has no label"
        assert box is not None and box["width"] > 0 and box["x"] >= 0 and box["x"] + box["width"] <= 390
    return int(labels.count())


def _answer_visible_page(page: object) -> None:
    fieldsets = page.locator("fieldset:visible")  # type: ignore[attr-defined]
    for i in range(fieldsets.count()):
        radios = fieldsets.nth(i).locator("input[type=radio]")
        if radios.count() and not fieldsets.nth(i).locator("input:checked").count():
            radios.nth(radios.count() - 1).check()


def test_it_takes_a_client_through_consent_a_hebrew_intake_and_a_checkin_on_a_phone(
    world, live_server, page
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    world.study.schedule = {"intake": ["wai_sr", "phq9"]}
    world.study.save()
    licensed_wai(world.study, "he")  # as the study admin attaches it on the licensed-texts page
    _, token = world.invite(kind="checkin", client=world.client)
    page.goto(f"{live_server.url}/p/{token}/?lang=he")
    assert page.locator("html").get_attribute("dir") == "rtl"
    page.get_by_role("button", name=he("I agree to take part")).click()
    page.wait_for_url(f"**/p/{token}/survey/")
    seen_phq = False
    for shot in range(10):
        if page.get_by_text(he("Your answers have been saved. You can close this page.")).count():
            break
        assert "wai_" not in page.locator("main").inner_text()  # never an item id for a question
        title = page.locator("h1").inner_text()
        counted = _labels_visible(page)
        assert counted > 0
        if "PHQ-9" in title:
            seen_phq = True
            for label in load_instrument("phq9").scale.labels.values():
                assert page.get_by_text(label["he"], exact=True).first.is_visible()
        page.screenshot(path=str(ARTIFACTS / f"intake-he-phone-{shot}.png"), full_page=True)
        _answer_visible_page(page)
        page.locator("button[value=next]").click()
        page.wait_for_load_state()
    assert seen_phq
    intake = Response.objects.get(client=world.client, kind="survey")
    assert intake.completed_at is not None
    assert intake.answers["wai_01"] == 5 and intake.answers["phq_09"] == 3

    page.goto(f"{live_server.url}/p/{token}/")
    page.wait_for_url(f"**/p/{token}/checkin/")
    page.get_by_role("radio", name="כן").check()  # "cried": the gated questions appear
    assert page.locator("fieldset#q-chk_02").is_visible()
    _answer_visible_page(page)
    _labels_visible(page)
    page.screenshot(path=str(ARTIFACTS / "checkin-he-phone.png"), full_page=True)
    page.get_by_role("button", name=he("Finish")).click()
    page.get_by_text("נשמר").first.wait_for()
    saved = Response.objects.get(client=world.client, kind="checkin")
    assert saved.session == 1 and saved.answers["cried"] == 1 and saved.answers["chk_02"] == 7
