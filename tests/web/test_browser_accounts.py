"""Browser tests for staff sign-in (issue 12): password, then enrolment of an authenticator app (the code
is computed here from the device's secret, as the phone would), recovery codes, and the next sign-in with a
fresh code, in Debian's chromium. No page may trip the Content-Security-Policy (Swagger UI included), and
the screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, needs_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), needs_chromium]

PASSWORD = "a long enough passphrase 7"


@pytest.fixture
def browser_page() -> Iterator[tuple[object, list[str]]]:
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the ORM is used beside Playwright's event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        pg = context.new_page()
        problems: list[str] = []
        pg.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
        pg.on("pageerror", lambda e: problems.append(str(e)))
        yield pg, problems
        context.close()
        browser.close()


def _code(device: TOTPDevice, at: float) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = at
    return str(totp.token()).zfill(device.digits)


def test_it_signs_a_therapist_in_with_a_password_and_a_totp_code(world, live_server, browser_page) -> None:
    page, problems = browser_page
    ARTIFACTS.mkdir(exist_ok=True)
    world.therapist.set_password(PASSWORD)
    world.therapist.save()

    page.goto(f"{live_server.url}/studies/cry-2026/")
    page.fill("input[name=username]", "therapist")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/accounts/2fa/setup/**")
    assert page.locator(".qr svg").count() == 1
    page.screenshot(path=str(ARTIFACTS / "staff-2fa-enrol.png"), full_page=True)
    device = TOTPDevice.objects.get(user=world.therapist, confirmed=False)
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    assert len(secret) == 32  # the key shown for typing in by hand is the device's (base32, 20 bytes)
    page.fill("input[name=code]", _code(device, time.time()))
    page.get_by_role("button", name="Confirm").click()
    page.locator("#recovery-codes li").first.wait_for()
    assert page.locator("#recovery-codes li").count() == 10
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url("**/studies/cry-2026/")
    assert page.get_by_text("Crying in therapy 2026").count() >= 1
    page.get_by_role("button", name="Log out").click()

    # the next sign-in: password, then the next code of the app (a used code is refused)
    page.goto(f"{live_server.url}/studies/cry-2026/")
    page.fill("input[name=username]", "therapist")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/accounts/2fa/?**")
    device.refresh_from_db()
    page.fill("input[name=code]", _code(device, (device.last_t + 1) * device.step + device.t0 + 1))
    page.screenshot(path=str(ARTIFACTS / "staff-2fa-login.png"), full_page=True)
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/studies/cry-2026/")
    page.screenshot(path=str(ARTIFACTS / "staff-after-2fa.png"), full_page=True)
    assert problems == []


def test_it_shows_swagger_ui_from_packaged_files_under_the_policy(live_server, browser_page) -> None:
    page, problems = browser_page
    external: list[str] = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
    page.goto(f"{live_server.url}/api/docs")
    page.locator(".swagger-ui .info .title").first.wait_for()
    page.get_by_text("/api/checkins").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "api-docs.png"), full_page=False)
    assert external == [] and problems == []
