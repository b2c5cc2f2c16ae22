"""The whole story in a real browser, in German and in English, with axe-core on every page it visits.

register → confirm the e-mail from the loopback SMTP server → sign in → set up TOTP → portal A →
portal B without a form (single sign-on) → a service that needs ``substantial`` → staff, in a
second browser context, sign in at /staff with TOTP and confirm the identity with the citizen's
code → the step-up succeeds → a portal sends a notice with a PDF → the citizen reads it on portal B
and downloads the PDF → sign out everywhere → both portals are signed out (back-channel logout).
"""

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from e2e.pages import (CITIZEN_PASSWORD, fill, follow, new_email, secret_on, send, signed_in_portal,
                       totp_now)

# Which demo office's employee confirms the identity in each language (one TOTP step per sign-in).
STAFF = {"de": 1, "en": 2}
LOCALES = {"de": "de-DE", "en": "en-GB"}


@pytest.mark.parametrize("lang", ["de", "en"])
def test_citizen_journey_across_the_portal_network(network, new_context, axe, screenshot, lang):
    shots = screenshot if lang == "de" else (lambda page, name: None)
    citizen = new_context(LOCALES[lang]).new_page()
    idp = network.issuer
    portal_a, portal_b = network.portals["stadt"], network.portals["landkreis"]
    email = new_email(f"journey-{lang}")

    # Register, with the registration page checked as it first appears and with errors.
    citizen.goto(f"{idp}/register")
    assert axe(citizen, "registration") == lang
    shots(citizen, "01-register")
    fill(citizen, {"email": email, "password": CITIZEN_PASSWORD, "password_repeat": "something else"})
    send(citizen)
    assert citizen.locator("[aria-invalid=true]").count() >= 1
    axe(citizen, "registration with errors")
    fill(citizen, {"email": email, "password": CITIZEN_PASSWORD, "password_repeat": CITIZEN_PASSWORD})
    send(citizen)
    assert urlsplit(citizen.url).path == "/register/sent"
    axe(citizen, "registration sent")

    # Confirm the address with the link from the real (loopback) SMTP server.
    link = network.smtp.link(email, "/confirm-email/")
    citizen.goto(link)
    axe(citizen, "e-mail confirmed")

    # Sign in.
    citizen.goto(f"{idp}/sign-in")
    axe(citizen, "sign-in")
    shots(citizen, "02-sign-in")
    fill(citizen, {"email": email, "password": CITIZEN_PASSWORD})
    send(citizen)
    assert urlsplit(citizen.url).path == "/account"
    axe(citizen, "account")
    shots(citizen, "03-account")

    # Set up TOTP: the key on the page gives the codes.
    citizen.goto(f"{idp}/account/totp")
    axe(citizen, "TOTP set-up")
    shots(citizen, "04-totp-setup")
    secret = secret_on(citizen)
    fill(citizen, {"code": totp_now(secret)})
    send(citizen)
    assert citizen.locator("ul.codes li").count() >= 8
    axe(citizen, "recovery codes")

    # Portal A: one click, and the Bürgerkonto session signs the citizen in there (no form).
    citizen.goto(portal_a + "/")
    axe(citizen, "portal A, signed out")
    follow(citizen, "a[href='/login']")
    assert citizen.url.startswith(portal_a) and signed_in_portal(citizen)
    axe(citizen, "portal A, signed in")
    shots(citizen, "05-portal-signed-in")

    # Portal B: signed in without any form at the Bürgerkonto (single sign-on).
    seen = []
    citizen.on("request", lambda request: request.is_navigation_request() and seen.append(request.url))
    citizen.goto(portal_b + "/")
    follow(citizen, "a[href='/login']")
    assert citizen.url.startswith(portal_b) and signed_in_portal(citizen)
    assert any(u.startswith(idp + "/authorize") for u in seen), seen
    assert not any("/sign-in" in u for u in seen), seen
    assert citizen.locator("#level").get_attribute("data-level") == "low"
    assert citizen.locator("#level").inner_text() == "normal"

    # A service that needs "substantial": the Bürgerkonto explains how to get there.
    citizen.goto(portal_b + "/service")
    assert citizen.locator("#service-ok").count() == 0
    axe(citizen, "portal service, level too low")
    follow(citizen, "a[href^='/login?level=substantial']")
    assert urlsplit(citizen.url).path == "/authorize"
    axe(citizen, "step-up")
    shots(citizen, "06-step-up")
    follow(citizen, "#step-up-in-person-check a")
    assert urlsplit(citizen.url).path == "/account/identity"
    axe(citizen, "identity check request")
    fill(citizen, {"given_name": "Hilke", "family_name": "Ostendorp", "birthdate": "14.03.1979",
                   "place_of_birth": "Emden", "street_address": "Hafenstraße 3", "postal_code": "26789",
                   "locality": "Leer (Ostfriesland)"})
    send(citizen)
    code = citizen.locator(".secret strong").inner_text().strip()
    assert len(code.replace("-", "")) >= 8, code
    axe(citizen, "identity check code")
    shots(citizen, "07-identity-code")

    # Staff, in their own browser, sign in with password and TOTP and confirm the identity.
    staff = network.staff[STAFF[lang]]
    counter = new_context(LOCALES[lang]).new_page()
    counter.goto(f"{idp}/staff")
    axe(counter, "staff sign-in")
    fill(counter, {"email": staff["email"], "password": staff["password"]})
    send(counter)
    assert urlsplit(counter.url).path == "/staff/second-factor"
    axe(counter, "staff second factor")
    fill(counter, {"code": totp_now(staff["totp_secret"])})
    send(counter)
    assert urlsplit(counter.url).path == "/staff/home"
    axe(counter, "staff home")
    fill(counter, {"check_code": code})
    send(counter)
    assert urlsplit(counter.url).path.startswith("/staff/checks/")
    assert counter.locator("[name=family_name]").input_value() == "Ostendorp"
    axe(counter, "staff confirmation form")
    counter.locator("[name=document_type][value=idcard]").check()
    fill(counter, {"document_expires_on": "31.05.2033", "document_number": f"L01X{lang.upper()}7T42"})
    counter.locator("[name=compared]").check()
    shots(counter, "08-staff-confirm")
    send(counter)
    axe(counter, "staff confirmed")
    counter.goto(f"{idp}/staff/verifications")
    axe(counter, "staff verifications")
    counter.goto(f"{idp}/staff/audit")
    axe(counter, "staff audit log")

    # The step-up now succeeds.
    citizen.goto(portal_b + "/service")
    follow(citizen, "a[href^='/login?level=substantial']")
    assert citizen.url.startswith(portal_b + "/service")
    assert citizen.locator("#service-ok").count() == 1
    axe(citizen, "portal service, allowed")
    shots(citizen, "09-portal-service")

    # Portal A sends a notice with a PDF; the citizen reads it on portal B and downloads the PDF.
    citizen.goto(portal_a + "/")
    send(citizen, "main form[action='/send-status']:has(input[name=with_pdf])")
    assert citizen.locator(".flash").inner_text() == "Die Nachricht wurde gesendet."
    citizen.goto(portal_b + "/postbox")
    axe(citizen, "portal postbox")
    follow(citizen, "main table a[href^='/postbox/']")
    assert "Stadt Leer" in citizen.locator("main").inner_text()
    axe(citizen, "portal message")
    shots(citizen, "10-portal-message")
    with citizen.expect_download() as download:
        citizen.locator("a[href*='/attachments/']").click()
    pdf = download.value
    assert pdf.suggested_filename == "bescheid.pdf"
    assert Path(pdf.path()).read_bytes().startswith(b"%PDF-")

    # The Bürgerkonto's own postbox shows the same message.
    citizen.goto(f"{idp}/postbox")
    axe(citizen, "postbox")
    shots(citizen, "11-postbox")
    follow(citizen, "main a[href^='/postbox/']:not([href*='?'])")
    axe(citizen, "postbox message")

    # Sign out at portal B: the Bürgerkonto session ends, and both portals hear it (back-channel).
    citizen.goto(portal_b + "/")
    send(citizen, "main form[action='/logout']")
    assert citizen.url.startswith(portal_b) and not signed_in_portal(citizen)
    citizen.goto(portal_a + "/")
    assert not signed_in_portal(citizen)
    citizen.goto(f"{idp}/account")
    assert urlsplit(citizen.url).path == "/sign-in"

    # Signing in again asks for the second factor (the page is checked; the code is not sent).
    fill(citizen, {"email": email, "password": CITIZEN_PASSWORD})
    send(citizen)
    assert urlsplit(citizen.url).path == "/sign-in/second-factor"
    axe(citizen, "second factor")
