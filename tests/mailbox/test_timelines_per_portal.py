"""The "My applications" timelines are per sending portal: a reference is the portal's own, and another
portal's message with the same number neither joins the application nor sets its state."""

from bs4 import BeautifulSoup


def test_another_portal_cannot_join_or_overrule_an_applications_timeline(leer, landkreis, citizen, browser):
    leer.send(leer.portal_token(), leer.sub(), kind="status", status="SUBMITTED", reference="2026-0001",
              subject="Antrag Hundesteuer eingegangen")
    leer.send(leer.portal_token(), leer.sub(), kind="status", status="PROCESSING", reference="2026-0001",
              subject="Antrag Hundesteuer in Bearbeitung")
    # Another portal (careless: same numbering; or malicious: a guessed reference) uses the same reference.
    landkreis.send(landkreis.portal_token(), landkreis.sub(), kind="status", status="COMPLETED",
                   reference="2026-0001", subject="Ihr Antrag ist abgeschlossen")
    soup = BeautifulSoup(browser.get("/postbox?lang=en").get_data(as_text=True), "html.parser")
    section = soup.find(id="timelines-h").find_parent("section")
    headings = [h.get_text(" ", strip=True) for h in section.select("h3")]
    states = [p.get_text(" ", strip=True) for p in section.select("p")]
    # Expected: one timeline per (portal, reference) — Stadt Leer's application still "In progress".
    assert any("Stadt Leer" in h for h in headings), (headings, states)
    assert len(headings) == 2, (headings, states)
