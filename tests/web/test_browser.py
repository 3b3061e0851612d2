"""Browser tests: a participant on a phone completes consent, a Hebrew survey and a check-in in Debian's
chromium driven by Playwright. Screenshots are saved under test-artifacts/ and the layout is checked for
right-to-left rendering."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, needs_chromium
from lacrima.web.participate.catalog import STRINGS
from lacrima.web.participate.models import Response

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.fixture
def page() -> Iterator[object]:
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the ORM is used beside Playwright's event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
        )
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
        )
        pg = context.new_page()
        yield pg
        context.close()
        browser.close()


def _fill_visible_page(page: object) -> None:
    fieldsets = page.locator("fieldset:visible")  # type: ignore[attr-defined]
    for i in range(fieldsets.count()):
        box = fieldsets.nth(i)
        radios = box.locator("input[type=radio]")
        if radios.count():
            radios.first.check()
            continue
        number = box.locator("input[type=number]")
        if number.count():
            number.first.fill(number.first.get_attribute("min") or "1")


def test_it_takes_a_participant_through_a_hebrew_survey_on_a_phone(world, live_server, page) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    inv, token = world.invite()
    page.goto(f"{live_server.url}/p/{token}/")
    page.get_by_role("link", name="עברית").click()
    assert page.locator("html").get_attribute("dir") == "rtl"
    page.get_by_role("button", name=STRINGS["he"]["consent_agree"]).click()
    page.wait_for_url(f"**/p/{token}/survey/")
    first = True
    for _ in range(30):
        if page.get_by_text(STRINGS["he"]["done_body"]).count():
            break
        _fill_visible_page(page)
        if first:
            page.screenshot(path=str(ARTIFACTS / "survey-he-phone.png"), full_page=True)
            legend = page.locator("fieldset:visible legend").first.bounding_box()
            direction = page.evaluate("getComputedStyle(document.querySelector('fieldset')).direction")
            assert direction == "rtl"
            # Right-to-left: the question text hugs the right edge of the 390-px screen.
            assert legend is not None and legend["x"] + legend["width"] > 300
            first = False
        page.locator("button[value=next]").click()
        page.wait_for_load_state()
    assert page.get_by_text(STRINGS["he"]["done_body"]).count() == 1
    response = Response.objects.get(invitation=inv)
    assert response.completed_at is not None
    assert response.answers["cried_in_therapy"] == 1


def test_it_records_a_checkin_in_under_a_minute(world, live_server, page) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    _, token = world.invite(kind="checkin", client=world.client)
    page.goto(f"{live_server.url}/p/{token}/?lang=he")
    page.get_by_role("button", name=STRINGS["he"]["consent_agree"]).click()
    page.wait_for_url(f"**/p/{token}/checkin/")
    _fill_visible_page(page)
    page.screenshot(path=str(ARTIFACTS / "checkin-he-phone.png"), full_page=True)
    page.get_by_role("button", name=STRINGS["he"]["finish"]).click()
    page.get_by_text("נשמר").first.wait_for()
    saved = Response.objects.get(client=world.client, kind="checkin")
    assert saved.session == 1 and saved.answers["cried"] in (0, 1)
