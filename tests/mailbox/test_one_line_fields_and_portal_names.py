"""What the postbox's one-line fields and a portal's names may hold (controls, bidirectional formatting),
and ``clients create|update --municipality``. Tests that say "found by a review" failed before their fix."""

import pytest

from buergerkonto.mailbox.validation import SendInvalid, parse_send


def _send(**fields) -> dict:
    return {"recipient": "sub", "subject": "Ihr Bescheid", **fields}


def _refused(**fields) -> set[str]:
    with pytest.raises(SendInvalid) as refused:
        parse_send(_send(**fields))
    return {e["pointer"] for e in refused.value.errors}


@pytest.mark.parametrize("value", [
    # U+061C ARABIC LETTER MARK is class AL: the European digits after it become Arabic numbers, and
    # "10-20" in an otherwise left-to-right subject is displayed "20-10" (UBA W2, N1). U+200F RLM
    # makes the neutrals before a number right-to-left: "Bescheid RLM (2) vom" shows its brackets
    # reversed and moved ("Bescheid 2) ( vom"), without a single right-to-left letter.
    "Frist \u061c10-20 Tage",
    "Bescheid \u200f(2) vom 1.2.",
])
@pytest.mark.parametrize("name", ["subject", "reference"])
def test_directional_marks_are_refused_in_one_line_fields(name, value):
    """Found by a review. ``_BIDI_FORMATTING`` has U+202A-202E and U+2066-2069 only; the marks ALM and RLM (and the
    other format characters the file-name rule already refuses, category Cf) pass."""
    assert _refused(**{name: value}) == {f"/{name}"}


@pytest.mark.parametrize("value", [
    "Ihr Bescheid\u0085Absender: Finanzamt",   # NEL, a C1 control and a line break
    "Ihr Bescheid\u2028Absender: Finanzamt",   # LINE SEPARATOR
    "Ihr Bescheid\u2029Absender: Finanzamt",   # PARAGRAPH SEPARATOR (also ends a bidi paragraph)
    "Ihr Bescheid\u009b31m",                   # CSI (C1)
])
def test_a_one_line_subject_holds_no_c1_controls_or_line_separators(value):
    """Found by a review. The API description this change wrote says "One line: no control characters"; the
    check refuses C0 controls only, so C1 controls (U+0080-U+009F) and U+2028/U+2029 pass."""
    assert _refused(subject=value) == {"/subject"}


@pytest.mark.parametrize("value", ["Ihr Bescheid \u202bx", "Ihr Bescheid \u2068x\u2069", "AZ \u202a1"])
def test_embeddings_and_isolates_are_refused(value):
    """what the change refuses stays refused (subject and reference)."""
    assert _refused(subject=value, reference=value) == {"/subject", "/reference"}


def test_right_to_left_text_is_still_accepted():
    """Arabic and Hebrew subjects need none of the refused characters."""
    assert parse_send(_send(subject="إشعار الضريبة", reference="מס 12")).subject == "إشعار الضريبة"


# --- clients create --municipality --------------------------------------------------------------


@pytest.mark.parametrize("value", [
    "Stadt \u202eLeer",                 # an override, shown beside the sender's name
    "Stadt Leer\nAbsender: Finanzamt",  # a line break in a name shown on one line
    "Stadt Leer\x1b[2J",                # a terminal escape, printed by ``clients create``
])
def test_municipality_refuses_controls_and_bidi_overrides(runner, value):
    """Found by a review. ``create_client`` strips and caps the municipality at 200 characters, nothing more; the
    postbox shows it beside every message's sender (pages and API), where subjects refuse exactly these."""
    result = runner.invoke(args=["clients", "create", "--name", "Bauportal", "--redirect-uri",
                                 "https://bau.example/callback", "--municipality", value])
    assert result.exit_code != 0, result.output


def test_an_existing_portal_can_be_given_its_municipality(runner, make_client_via_cli):
    """Found by a review (a gap). Portals registered before this change cannot get a municipality: ``clients update``
    takes only --access-token-format (the demo writes client_metadata directly instead)."""
    client_id = make_client_via_cli()
    result = runner.invoke(args=["clients", "update", client_id, "--municipality", "Stadt Leer"])
    assert result.exit_code == 0, result.output


@pytest.fixture
def make_client_via_cli(runner):
    import json

    def make():
        created = runner.invoke(args=["clients", "create", "--name", "Altportal", "--redirect-uri",
                                      "https://alt.example/callback", "--json"])
        assert created.exit_code == 0, created.output
        return json.loads(created.output)["client_id"]

    return make
