"""Checking a send before anything is stored: fields, attachment types by content, file names that
fit the type, sizes.

Problems are collected per field as JSON pointers into the request (RFC 9457
``errors``). Type and size problems of attachments carry their own status
(415, 413); plain field problems are 400.
"""

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email

from ..idp.text import hides_or_reorders

KINDS = ("notice", "status")
LEVELS = ("low", "substantial", "high")
# The states of the German central citizen postbox (Zentrales Bürgerpostfach) for applications.
STATES = ("INITIATED", "SUBMITTED", "RECEIVED", "PROCESSING", "ACTION_REQUIRED", "COMPLETED")
FIELDS = {"recipient", "subject", "body", "kind", "reference", "min_level", "reply_to", "status", "language",
          "attachments"}
ATTACHMENT_FIELDS = {"filename", "content_type", "content"}
MAX_SUBJECT = 255
MAX_BODY_BYTES = 64 * 1024
MAX_REFERENCE = 100
MAX_RECIPIENT = 255
MAX_FILENAME = 255
MAX_ATTACHMENTS = 20
MIB = 1024 * 1024
MAX_ATTACHMENT_BYTES = 10 * MIB
MAX_TOTAL_BYTES = 25 * MIB
# The largest request body a send can need: the attachments in base64 plus the rest.
MAX_REQUEST_BYTES = MAX_TOTAL_BYTES * 4 // 3 + 2 * MIB
SIGNATURES = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}
# The endings a file name may have for each type (any case). The citizen's machine opens a saved
# file by its name: "Bescheid.pdf.cmd" that sniffs as PDF would still be run as a batch file.
EXTENSIONS = {"application/pdf": (".pdf",), "image/png": (".png",), "image/jpeg": (".jpg", ".jpeg")}
# The language of subject and body, for the pages' lang attribute (WCAG 3.1.2): a BCP 47 tag (RFC 5646)
# of language, optional script and region ("de", "de-DE", "tr", "sr-Latn-RS", "es-419"). Variants,
# extensions and private use are refused: no page needs them, and a short tag is easy to check.
LANGUAGE_PATTERN = "^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?$"  # also the OpenAPI document's
MAX_LANGUAGE = 12  # the longest tag it allows ("abc-Abcd-123"); the column holds 35, as RFC 5646 4.4.1 advises
DEFAULT_LANGUAGE = "de"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PATH_SEPARATORS = re.compile(r"[/\\]")


_NO_PATHS = "A file name of 1 to 255 characters, without paths."


def _filename_problem(filename) -> str | None:
    """Why ``filename`` cannot be a file name as written, or ``None``."""
    if not isinstance(filename, str) or not filename.strip() or len(filename) > MAX_FILENAME:
        return _NO_PATHS
    # As written, and in the NFKD form from which werkzeug builds a download's plain ASCII
    # ``filename=``: there U+FF0F and U+FE68 become "/" and "\\", and "．．" becomes "..".
    for form in (filename, unicodedata.normalize("NFKD", filename)):
        if _PATH_SEPARATORS.search(form) or form in (".", ".."):
            return _NO_PATHS
    if hides_or_reorders(filename, joiners_allowed=False):  # a file name has no use for invisible joiners
        return ("A file name must not hold control characters, format characters (such as bidirectional "
                "overrides) or line separators.")
    return None


def _extension_fits(filename: str, content_type: str) -> bool:
    """Whether the name ends the way files of ``content_type`` (what the content is) end."""
    return filename.lower().endswith(EXTENSIONS[content_type])


def sniff(content: bytes) -> str | None:
    """The type the bytes really are (by their signature), or ``None`` when not allowed."""
    for content_type, signatures in SIGNATURES.items():
        if content.startswith(signatures):
            return content_type
    return None


@dataclass
class FileIn:
    filename: str
    content_type: str
    content: bytes


@dataclass
class SendIn:
    recipient: str
    subject: str
    body: str
    kind: str
    reference: str | None
    min_level: str
    reply_to: str | None
    status: str | None
    language: str = DEFAULT_LANGUAGE
    attachments: list[FileIn] = field(default_factory=list)


class SendInvalid(ValueError):
    """The send is refused; ``status`` is 400, 413 or 415 and ``errors`` name the fields."""

    def __init__(self, status: int, errors: list[dict]):
        super().__init__(errors[0]["detail"])
        self.status = status
        self.errors = errors


def _error(pointer: str, detail: str) -> dict:
    return {"pointer": pointer, "detail": detail}


# Problems listed in one answer. A body of unknown fields (any portal may send one) would otherwise
# get one entry each: 12 MB of keys made a 59 MB answer and a worker of 765 MB.
MAX_REPORTED = 20
_LONG_NAME = 100


def _unknown_fields(where: str, item: dict, known) -> list[dict]:
    """The first ``MAX_REPORTED`` members of ``item`` that are not fields; a very long name is
    pointed at by its object and shortened in the text."""
    problems = []
    for name in item:
        if name in known:
            continue
        if len(problems) == MAX_REPORTED:
            break
        pointer = where if len(name) > _LONG_NAME else f"{where}/{name.replace('~', '~0').replace('/', '~1')}"
        problems.append(_error(pointer, f"Unknown field '{name[:40]}'."))
    return problems


def _text(data, name, errors, required=False, max_len=None, max_bytes=None, allow_newlines=False):
    value = data.get(name)
    if value is None:
        if required:
            errors.append(_error(f"/{name}", f"'{name}' is required."))
        return None
    if not isinstance(value, str):
        errors.append(_error(f"/{name}", f"'{name}' must be a string."))
        return None
    if required and not value.strip():
        errors.append(_error(f"/{name}", f"'{name}' must not be empty."))
        return None
    if max_len is not None and len(value) > max_len:
        errors.append(_error(f"/{name}", f"'{name}' has more than {max_len} characters."))
        return None
    if max_bytes is not None and len(value.encode("utf-8", "surrogatepass")) > max_bytes:
        errors.append(_error(f"/{name}", f"'{name}' is longer than {max_bytes} bytes."))
        return None
    # A one-line field (subject, reference) is shown inside sentences and titles: nothing in it may
    # hide, break the line or reorder the words around it (``text.hides_or_reorders``).
    if allow_newlines and (_CONTROL.search(value) or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)):
        errors.append(_error(f"/{name}", f"'{name}' holds characters that are not allowed."))
        return None
    if not allow_newlines and hides_or_reorders(value):
        errors.append(_error(f"/{name}", f"'{name}' must be one line without control characters or invisible "
                                         "formatting characters (such as bidirectional marks and overrides)."))
        return None
    return value


def _choice(data, name, choices, errors, default=None):
    value = data.get(name, default)
    if value is None:
        return None
    if value not in choices:
        errors.append(_error(f"/{name}", f"'{name}' must be one of: {', '.join(choices)}."))
        return None
    return value


def _reply_to(value, errors):
    if value is None:
        return None
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        errors.append(_error("/reply_to", "'reply_to' must be an e-mail address."))
        return None


def _language(data, errors) -> str | None:
    value = data.get("language", DEFAULT_LANGUAGE)
    if not isinstance(value, str) or not re.fullmatch(LANGUAGE_PATTERN, value):
        errors.append(_error("/language", "'language' must be a language tag such as 'de', 'en', 'de-DE' or 'tr'."))
        return None
    return _in_canonical_case(value)


def _in_canonical_case(tag: str) -> str:
    """Tags are compared ignoring case; stored as RFC 5646 (2.1.1) writes them: "DE-de" as "de-DE"."""
    language, *subtags = tag.split("-")
    return "-".join([language.lower()] + [s.title() if len(s) == 4 else s.upper() for s in subtags])


def parse_send(data) -> SendIn:
    """Check a decoded JSON send; raises ``SendInvalid``."""
    if not isinstance(data, dict):
        raise SendInvalid(400, [_error("", "The request body must be a JSON object.")])
    errors = _unknown_fields("", data, FIELDS)
    errors += [_error(f"/{name}", f"'{name}' must be left out rather than null.")
               for name in data if name in FIELDS and data[name] is None]
    data = {name: value for name, value in data.items() if value is not None}
    recipient = _text(data, "recipient", errors, required=True, max_len=MAX_RECIPIENT)
    subject = _text(data, "subject", errors, required=True, max_len=MAX_SUBJECT)
    body = _text(data, "body", errors, max_bytes=MAX_BODY_BYTES, allow_newlines=True) or ""
    kind = _choice(data, "kind", KINDS, errors, default="notice")
    reference = _text(data, "reference", errors, max_len=MAX_REFERENCE)
    if reference is not None and not reference.strip():
        errors.append(_error("/reference", "'reference' must not be empty."))
    min_level = _choice(data, "min_level", LEVELS, errors, default="low")
    reply_to = _text(data, "reply_to", errors, max_len=254)
    reply_to = _reply_to(reply_to, errors) if reply_to else None
    status = _choice(data, "status", STATES, errors)
    language = _language(data, errors)
    if kind == "status":
        if data.get("status") is None:
            errors.append(_error("/status", "A status update needs a 'status'."))
        if data.get("reference") is None:
            errors.append(_error("/reference", "A status update needs a 'reference'."))
    elif kind == "notice" and data.get("status") is not None:
        errors.append(_error("/status", "Only status updates carry a 'status'."))
    files, file_errors = _attachments(data.get("attachments"), "attachments" in data)
    errors.extend(file_errors)
    if errors:
        # A malformed request is 400; only a well-formed one is refused for its files' size or type.
        statuses = {e.pop("status", 400) for e in errors}
        raise SendInvalid(400 if 400 in statuses else 413 if 413 in statuses else 415, errors[:MAX_REPORTED])
    return SendIn(recipient, subject, body, kind, reference, min_level, reply_to, status, language, files)


def _attachments(items, present) -> tuple[list[FileIn], list[dict]]:
    """Decode and check attachments; size problems carry status 413, type problems 415."""
    if not present:
        return [], []
    if not isinstance(items, list):
        return [], [_error("/attachments", "'attachments' must be an array.")]
    if len(items) > MAX_ATTACHMENTS:
        return [], [_error("/attachments", f"At most {MAX_ATTACHMENTS} attachments.")]
    files, errors, total = [], [], 0
    for number, item in enumerate(items):
        where = f"/attachments/{number}"
        if not isinstance(item, dict):
            errors.append(_error(where, "An attachment must be an object."))
            continue
        errors.extend(_unknown_fields(where, item, ATTACHMENT_FIELDS))
        filename, declared, encoded = item.get("filename"), item.get("content_type"), item.get("content")
        name_problem = _filename_problem(filename)
        if name_problem:
            errors.append(_error(f"{where}/filename", name_problem))
        if not isinstance(declared, str):
            errors.append(_error(f"{where}/content_type", "'content_type' is required."))
            declared = None
        if not isinstance(encoded, str) or not encoded:
            errors.append(_error(f"{where}/content", "'content' (base64) is required."))
            continue
        if len(encoded) > (MAX_ATTACHMENT_BYTES + 2) * 4 // 3 + 4:
            errors.append(dict(_error(f"{where}/content", "An attachment may have at most 10 MiB."), status=413))
            continue
        try:
            content = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            errors.append(_error(f"{where}/content", "'content' is not valid base64."))
            continue
        if not content:
            errors.append(_error(f"{where}/content", "An attachment must not be empty."))
            continue
        if len(content) > MAX_ATTACHMENT_BYTES:
            errors.append(dict(_error(f"{where}/content", "An attachment may have at most 10 MiB."), status=413))
            continue
        total += len(content)
        actual = sniff(content)
        if actual is None:
            errors.append(dict(_error(f"{where}/content", "Only PDF, PNG and JPEG files are accepted."), status=415))
            continue
        if declared is not None and declared.split(";")[0].strip().lower() != actual:
            errors.append(dict(_error(f"{where}/content_type", f"The content is {actual}, not {declared[:60]}."),
                               status=415))
            continue
        if name_problem:
            continue
        if not _extension_fits(filename, actual):
            endings = " or ".join(EXTENSIONS[actual])
            errors.append(dict(_error(f"{where}/filename", f"The content is {actual}: the file name must end "
                                                            f"in {endings}."), status=415))
            continue
        files.append(FileIn(filename, actual, content))
    if total > MAX_TOTAL_BYTES:
        errors.append(dict(_error("/attachments", "The attachments may have at most 25 MiB together."), status=413))
    return files, errors
