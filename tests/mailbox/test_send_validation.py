"""Refused sends: 400 names the failing field, 413 for sizes, 415 for types (by content)."""

import pytest

MIB = 1024 * 1024


@pytest.fixture
def send(leer, citizen):
    token, sub = leer.portal_token(), leer.sub()

    def call(**fields):
        return leer.send(token, fields.pop("recipient", sub), **fields)

    call.sub = sub
    call.token = token
    return call


def _pointers(response) -> set[str]:
    assert response.mimetype == "application/problem+json", response.get_data(as_text=True)[:200]
    return {e.get("pointer") for e in response.get_json()["errors"]}


@pytest.mark.parametrize("fields,pointer", [
    ({"subject": ""}, "/subject"),
    ({"subject": "x" * 256}, "/subject"),
    ({"subject": "Zeile\nZwei"}, "/subject"),
    ({"subject": 5}, "/subject"),
    # Bidirectional overrides and isolates would reorder the sentence a subject is shown in.
    ({"subject": "Ihr Bescheid \u202eliuqer"}, "/subject"),
    ({"subject": "Ihr Bescheid \u2067x\u2069"}, "/subject"),
    ({"reference": "AZ-\u202d1"}, "/reference"),
    ({"body": "x" * (64 * 1024 + 1)}, "/body"),
    ({"kind": "letter"}, "/kind"),
    ({"kind": None}, "/kind"),
    ({"min_level": "medium"}, "/min_level"),
    ({"kind": "status", "status": "RECEIVED"}, "/reference"),
    ({"kind": "status", "reference": "AZ-1"}, "/status"),
    ({"status": "RECEIVED", "reference": "AZ-1"}, "/status"),
    ({"kind": "status", "reference": "AZ-1", "status": "DONE"}, "/status"),
    ({"reply_to": "not an address"}, "/reply_to"),
    ({"reference": "x" * 101}, "/reference"),
    ({"colour": "blue"}, "/colour"),
    ({"attachments": {"filename": "a.pdf"}}, "/attachments"),
    ({"attachments": [{"filename": "../etc/passwd", "content_type": "application/pdf", "content": "JVBERi0="}]},
     "/attachments/0/filename"),
    ({"attachments": [{"filename": "a.pdf", "content_type": "application/pdf", "content": "%%%"}]},
     "/attachments/0/content"),
])
def test_bad_fields_are_400_with_the_failing_field(send, fields, pointer):
    response = send(**fields)
    assert response.status_code == 400
    assert pointer in _pointers(response)


def test_a_body_of_unknown_fields_gets_a_short_answer(send, kit):
    from buergerkonto.mailbox.validation import MAX_REPORTED

    # One problem per unknown member made a 59 MB answer (and a 765 MB worker) of a 12 MB body.
    fields = {f"k{n}": 0 for n in range(50_000)}
    fields["x" * 10_000] = 0  # a long name: pointed at by its object, shortened in the text
    fields["a/b~c"] = 0
    attachment = {"filename": "a.pdf", "content_type": "application/pdf", "content": kit.b64(kit.pdf())}
    attachment.update({f"extra{n}": 0 for n in range(1000)})
    response = send(**fields, attachments=[attachment])
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    errors = response.get_json()["errors"]
    assert len(errors) == MAX_REPORTED and len(response.get_data()) < 10_000
    assert all(e["detail"].startswith("Unknown field '") and len(e["pointer"]) < 20 for e in errors)
    few = send(**{"x" * 10_000: 0, "a/b~c": 0}).get_json()["errors"]
    assert {"pointer": "", "detail": f"Unknown field '{'x' * 40}'."} in few
    assert {"pointer": "/a~1b~0c", "detail": "Unknown field 'a/b~c'."} in few  # RFC 6901


def test_unknown_recipient_is_400_on_recipient(send, landkreis):
    response = send(recipient="someone-else")
    assert response.status_code == 400 and _pointers(response) == {"/recipient"}
    # Another sector's pairwise subject of the same citizen does not address them either.
    response = send(recipient=landkreis.sub())
    assert response.status_code == 400 and _pointers(response) == {"/recipient"}


def test_body_must_be_a_json_object(leer, citizen, send):
    headers = {"Authorization": f"Bearer {send.token}"}
    response = leer.http.post("/api/postbox/v1/messages", data="{not json", headers=headers,
                              content_type="application/json")
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    response = leer.http.post("/api/postbox/v1/messages", json=[1, 2], headers=headers)
    assert response.status_code == 400
    response = leer.http.post("/api/postbox/v1/messages", data="recipient=x", headers=headers,
                              content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_pdf_png_and_jpeg_are_accepted_by_content(send, kit):
    files = [{"filename": "bescheid.pdf", "content_type": "application/pdf", "content": kit.b64(kit.pdf())},
             {"filename": "plan.png", "content_type": "image/png", "content": kit.b64(kit.PNG)},
             {"filename": "foto.jpg", "content_type": "image/jpeg; charset=binary", "content": kit.b64(kit.JPEG)}]
    assert send(attachments=files).status_code == 201


@pytest.mark.parametrize("content,declared", [
    (b"MZ\x90\x00 this is an executable", "application/pdf"),
    (b"<html><script>alert(1)</script></html>", "application/pdf"),
    (b"GIF89a....", "image/png"),
])
def test_other_types_are_415_whatever_the_header_says(send, content, declared, kit):
    response = send(attachments=[{"filename": "x.pdf", "content_type": declared, "content": kit.b64(content)}])
    assert response.status_code == 415
    assert _pointers(response) == {"/attachments/0/content"}


def test_declared_type_must_match_the_content(send, kit):
    response = send(attachments=[{"filename": "x.png", "content_type": "image/png", "content": kit.b64(kit.pdf())}])
    assert response.status_code == 415 and _pointers(response) == {"/attachments/0/content_type"}


def test_an_attachment_over_10_mib_is_413(send, kit):
    big = b"%PDF-" + b"0" * (10 * MIB)
    response = send(attachments=[{"filename": "big.pdf", "content_type": "application/pdf", "content": kit.b64(big)}])
    assert response.status_code == 413 and _pointers(response) == {"/attachments/0/content"}


def test_attachments_over_25_mib_together_are_413(send, kit):
    ten = kit.b64(b"%PDF-" + b"0" * (10 * MIB - 5))
    rest = kit.b64(b"%PDF-" + b"0" * (5 * MIB + MIB // 2))
    files = [{"filename": f"{n}.pdf", "content_type": "application/pdf", "content": c}
             for n, c in enumerate([ten, ten, rest])]
    response = send(attachments=files)
    assert response.status_code == 413 and _pointers(response) == {"/attachments"}


def test_exactly_10_mib_is_accepted(send, kit):
    ten = kit.b64(b"%PDF-" + b"0" * (10 * MIB - 5))
    assert send(attachments=[{"filename": "ten.pdf", "content_type": "application/pdf", "content": ten}]
                ).status_code == 201


# A batch file whose first line is "%PDF-": it sniffs as PDF, and Windows runs it by its name.
BATCH_AS_PDF = b"%PDF-1.4\r\ncalc.exe\r\n"


def _file(filename: str, content: bytes, content_type: str, kit) -> dict:
    return {"filename": filename, "content_type": content_type, "content": kit.b64(content)}


@pytest.mark.parametrize("filename,content,content_type,endings", [
    ("Bescheid.pdf.cmd", BATCH_AS_PDF, "application/pdf", ".pdf"),
    ("Bescheid", BATCH_AS_PDF, "application/pdf", ".pdf"),
    ("Bescheid.pdf.", BATCH_AS_PDF, "application/pdf", ".pdf"),
    ("plan.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "image/png", ".png"),
    ("foto.png", b"\xff\xd8\xff\xe0" + b"\x00" * 30, "image/jpeg", ".jpg or .jpeg"),
], ids=["second-ending", "no-ending", "trailing-dot", "png-named-pdf", "jpeg-named-png"])
def test_file_name_must_end_as_the_content_type_does(send, kit, filename, content, content_type, endings):
    response = send(attachments=[_file(filename, content, content_type, kit)])
    assert response.status_code == 415 and _pointers(response) == {"/attachments/0/filename"}
    assert response.get_json()["detail"].endswith(f"must end in {endings}.")


def test_file_name_endings_fit_in_any_case(send, kit):
    files = [_file("BESCHEID.PDF", kit.pdf(), "application/pdf", kit), _file("Plan.Png", kit.PNG, "image/png", kit),
             _file("foto.JPEG", kit.JPEG, "image/jpeg", kit), _file("foto.jpg", kit.JPEG, "image/jpeg", kit)]
    assert send(attachments=files).status_code == 201


@pytest.mark.parametrize("character", [
    "\u202e", "\u202a", "\u2066", "\u2069", "\u200e", "\u200f", "\u200b", "\u2028", "\u2029", "\x85",
])
def test_file_name_with_bidi_format_or_separator_characters_is_400(send, kit, character):
    response = send(attachments=[_file(f"Beschei{character}d.pdf", kit.pdf(), "application/pdf", kit)])
    assert response.status_code == 400 and _pointers(response) == {"/attachments/0/filename"}


def test_right_to_left_override_cannot_disguise_the_ending(send, kit):
    # Shown as "Bescheiddmc.pdf", saved as "Bescheid…fdp.cmd".
    response = send(attachments=[_file("Bescheid\u202efdp.cmd", BATCH_AS_PDF, "application/pdf", kit)])
    assert response.status_code == 400 and _pointers(response) == {"/attachments/0/filename"}
    assert "format characters" in response.get_json()["detail"]
