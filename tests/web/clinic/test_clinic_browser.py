"""Browser tests in Debian's chromium: the caseload and the client page on a 390-px phone in English and
Hebrew. Screenshots go to test-artifacts/ (clinic-*.png); the layout is checked for fitting the screen and
for right-to-left rendering."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.conf import settings

from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, needs_chromium
from clinic_support import checkin, phq, rupture_course, survey
from lacrima.web.clinic.evaluate import refresh_client
from lacrima.web.studies.models import Client

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), needs_chromium]


@pytest.fixture
def browser() -> Iterator[object]:
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the ORM is used beside Playwright's event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _seed(world) -> None:
    client = world.client
    intake = {f"ecr_{i:02d}": 3 for i in range(1, 19)} | {f"ecr_{i:02d}": 6 for i in range(19, 37)}
    intake |= {f"cat_{i:02d}": 4 for i in range(1, 13)} | phq(2) | {"gender": "man"}
    survey(client, intake)
    rupture_course(client)
    for s in (4, 8):
        survey(client, phq(2), session=s)
    calm = Client.objects.create(
        study=world.study, site=world.site_il, code="C003", therapist=world.therapist
    )
    for s in range(1, 9):
        checkin(calm, s, alliance=6, cried=int(s == 5), feelings=(3, 6, 6, 1, 1) if s == 5 else None)
    for c in (client, calm):
        refresh_client(c, notify=False)


def _page(browser, live_server, world, lang: str):
    http = world.login(world.therapist)  # signed in with the second factor passed
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        locale=lang,
        extra_http_headers={"Accept-Language": lang},
    )
    host = live_server.url.split("//", 1)[1].split(":")[0]
    cookie = http.cookies[settings.SESSION_COOKIE_NAME].value
    ctx.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "domain": host, "path": "/"}])
    return ctx, ctx.new_page()


def _fits_the_phone(pg) -> None:
    width = pg.evaluate("document.documentElement.scrollWidth")
    assert width <= 392, f"the page is {width}px wide on a 390-px screen"


@pytest.mark.parametrize("lang", ["en", "he"])
def test_it_shows_the_caseload_and_client_page_on_a_phone(world, live_server, browser, lang) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    _seed(world)
    ctx, pg = _page(browser, live_server, world, lang)
    pg.goto(f"{live_server.url}/clinic/")
    assert pg.locator("html").get_attribute("dir") == ("rtl" if lang == "he" else "ltr")
    rows = pg.locator("tr[data-client]")
    assert rows.count() == 2 and rows.first.get_attribute("data-client") == "C001"
    assert pg.locator('tr[data-client="C001"] [data-alert="alliance-rupture"]').is_visible()
    _fits_the_phone(pg)
    if lang == "he":
        code = pg.locator('tr[data-client="C001"] td.client a').bounding_box()
        assert code is not None and code["x"] > 195  # right to left: the client code sits on the right
    pg.screenshot(path=str(ARTIFACTS / f"clinic-caseload-{lang}-phone.png"), full_page=True)
    pg.locator('tr[data-client="C001"] td.client a').click()
    pg.wait_for_url("**/clinic/cry-2026/clients/C001/")
    timeline = pg.locator("#timeline-section svg.chart")
    box = timeline.bounding_box()
    assert box is not None and box["width"] <= 390
    for text in pg.locator("#timeline-section svg.chart text").all():  # labels and legend inside the chart
        t = text.bounding_box()
        assert t is not None and box["x"] - 1 <= t["x"] and t["x"] + t["width"] <= box["x"] + box["width"] + 1
    card = pg.locator("#sessions tr").nth(1).bounding_box()  # the session dates stay a compact table
    assert card is not None and card["height"] < 40
    assert pg.locator('#open-alerts [data-alert="alliance-rupture"]').first.is_visible()
    assert pg.locator("#symptoms svg.chart").first.is_visible()
    _fits_the_phone(pg)
    pg.screenshot(path=str(ARTIFACTS / f"clinic-client-{lang}-phone.png"), full_page=True)
    pg.locator("#timeline-section").screenshot(path=str(ARTIFACTS / f"clinic-timeline-{lang}.png"))
    ctx.close()


def test_it_acknowledges_an_alert_from_the_phone(world, live_server, browser) -> None:
    _seed(world)
    ctx, pg = _page(browser, live_server, world, "en")
    pg.goto(f"{live_server.url}/clinic/cry-2026/clients/C001/")
    alert = pg.locator('#open-alerts li[data-alert="alliance-rupture"]').first
    alert.locator("textarea").fill("Named the rupture; repair next session")
    alert.locator("button").click()
    pg.wait_for_load_state()
    assert pg.locator(".messages").get_by_text("Alert acknowledged").count() == 1
    history = pg.locator("#alert-history")
    assert history.get_by_text("Named the rupture; repair next session").count() == 1
    ctx.close()
