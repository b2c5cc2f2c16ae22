"""What the OIDC provider asks of this part, through ``idp.hooks``.

Contracts (registered by ``init_app``):

``proofing_level(account) -> "low" | "substantial" | "high"``
    The level of the account's live in-person verification (confirmed, not
    revoked, document not expired); ``"low"`` without one. The level is the
    ``TRUST_LEVEL_IN_PERSON`` setting at the time of confirmation.

``verified_claims(account, web_session, requested) -> list``
    OpenID Connect for Identity Assurance 1.0 ``verified_claims`` objects
    (zero or one) for the live verification. ``requested`` is the
    ``verified_claims`` member of the OIDC ``claims`` parameter (an object or
    an array of objects), or ``None`` for "everything" (e.g. the data export).
    Honoured: ``claims`` (when it names claims only those are returned, and
    if none of them is available nothing is returned; when it names none, all
    verified claims are returned), ``verification.trust_framework``
    (``value``/``values``: no match, nothing returned), ``verification.time``
    (``max_age`` in seconds), and the other ``verification`` members (only
    those named are returned besides ``trust_framework``, as section 6 of the
    spec asks; ``evidence`` is returned whole when named).

    ``trust_framework`` is ``TRUST_FRAMEWORK`` (default ``"de_buergerkonto_pipp"``):
    "identity confirmed by physical in-person proofing of an official
    identity document (Personalausweis, Reisepass, eAT) by staff of a member
    municipality's Bürgerbüro, under the Bürgerkonto's operating rules".
    ``assurance_level`` is the verification's level (``substantial``/``high``).

``step_up_options(web_session, next_path=None) -> dict``
    ``{"in_person_check": {...}}`` for the step-up page, with keys
    ``label`` (heading), ``description`` (one sentence), ``url`` (absolute URL
    of the citizen's check page, where the code is made and shown),
    ``status`` (``"none"`` no code yet, ``"open"`` code waiting, ``"held"``
    being reviewed, ``"verified"`` already confirmed), ``code`` (``"ABCD-EFGH"``
    or ``None``), ``code_expires_at`` (ISO 8601 UTC or ``None``),
    ``qr_svg`` (inline SVG markup of the code, or ``None``). Empty for a
    session without a citizen.
"""

from flask import current_app
from flask_babel import gettext as _

from ..idp.timeutil import epoch, utcnow
from . import codes, service

CLAIM_NAMES = ("given_name", "family_name", "birthdate", "place_of_birth", "address")
VERIFICATION_MEMBERS = ("trust_framework", "assurance_level", "time", "verification_process", "evidence")


def _iso(moment) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


def full_object(verification) -> dict:
    """The complete ``verified_claims`` object for one verification record.

    Its times are when the document was checked at the counter (``created_at``): a held case approved
    weeks later was no fresher check of the document (the same moment as ``verified_at`` otherwise).
    """
    verified_at = _iso(verification.created_at)
    return {
        "verification": {
            "trust_framework": current_app.config["TRUST_FRAMEWORK"],
            "assurance_level": verification.level,
            "time": verified_at,
            "verification_process": verification.public_id,
            "evidence": [{
                "type": "document",
                "method": "pipp",
                "time": verified_at,
                "document_details": {
                    "type": verification.document_type,
                    "issuer": {"country_code": verification.document_country},
                    "date_of_expiry": verification.document_expires_on.isoformat(),
                },
                "verifier": {
                    "organization": f"{verification.office.name} ({verification.office.municipality.name})",
                    "txn": verification.public_id,
                },
            }],
        },
        "claims": {
            "given_name": verification.given_name,
            "family_name": verification.family_name,
            "birthdate": verification.birthdate.isoformat(),
            "place_of_birth": {"locality": verification.place_of_birth},
            "address": {
                "street_address": verification.street_address,
                "postal_code": verification.postal_code,
                "locality": verification.locality,
                "country": verification.country,
            },
        },
    }


def _framework_matches(request_verification: dict) -> bool:
    wanted = request_verification.get("trust_framework")
    if not isinstance(wanted, dict):
        return True
    framework = current_app.config["TRUST_FRAMEWORK"]
    if "value" in wanted and wanted["value"] != framework:
        return False
    if "values" in wanted and isinstance(wanted["values"], list) and framework not in wanted["values"]:
        return False
    return True


def _fresh_enough(request_verification: dict, verification) -> bool:
    wanted = request_verification.get("time")
    if isinstance(wanted, dict) and isinstance(wanted.get("max_age"), int):
        return epoch(utcnow()) - epoch(verification.created_at) <= wanted["max_age"]
    return True


def _answer(full: dict, request: dict, verification) -> dict | None:
    """Cut the full object down to one request object; ``None`` when it cannot be met."""
    if not isinstance(request, dict):
        return None
    wanted_verification = request.get("verification")
    wanted_verification = wanted_verification if isinstance(wanted_verification, dict) else {}
    if not _framework_matches(wanted_verification) or not _fresh_enough(wanted_verification, verification):
        return None
    members = [m for m in VERIFICATION_MEMBERS if m == "trust_framework" or m in wanted_verification]
    answer_verification = {m: full["verification"][m] for m in members}
    wanted_claims = request.get("claims")
    if isinstance(wanted_claims, dict) and wanted_claims:
        claims = {name: value for name, value in full["claims"].items() if name in wanted_claims}
    else:
        # A request that names no claims gets all verified claims (the spec makes ``claims``
        # mandatory in the request; portals that omit it asked for the whole set).
        claims = dict(full["claims"])
    if not claims:
        return None
    return {"verification": answer_verification, "claims": claims}


def verified_claims(account, web_session, requested) -> list:
    verification = service.live_verification(account)
    if verification is None:
        return []
    full = full_object(verification)
    if requested is None:
        return [full]
    requests = requested if isinstance(requested, list) else [requested]
    answers = []
    for request in requests:
        answer = _answer(full, request, verification)
        if answer is not None and answer not in answers:
            answers.append(answer)
    return answers


def proofing_level(account) -> str:
    return service.proofing_level(account)


def step_up_options(web_session, next_path: str | None = None) -> dict:
    account = getattr(web_session, "account", None)
    if account is None or getattr(web_session, "kind", "citizen") != "citizen":
        return {}
    check = service.open_check(account)
    code = service.check_code(check) if check else None
    if service.live_verification(account) is not None:
        status = "verified"
    elif check is not None:
        status = "open"
    elif service.held_check(account) is not None:
        status = "held"
    else:
        status = "none"
    return {"in_person_check": {
        "label": _("Have your identity confirmed at the Bürgerbüro"),
        "description": _("Show your ID card or passport at any Bürgerbüro of the district with the "
                         "code from your account page."),
        "url": current_app.config["ISSUER"] + "/account/identity",
        "status": status,
        "code": codes.display(code) if code else None,
        "code_expires_at": _iso(check.expires_at) if check else None,
        "qr_svg": codes.qr_svg(code, _("QR code with your check code")) if code else None,
    }}


def discovery_metadata() -> dict:
    """What discovery advertises for the Bürgerbüro's verifications (OIDC4IDA §8)."""
    from .models import DOCUMENT_TYPES

    return {
        "trust_frameworks_supported": [current_app.config["TRUST_FRAMEWORK"]],
        "evidence_supported": ["document"],
        "documents_supported": list(DOCUMENT_TYPES),
        "documents_check_methods_supported": ["pipp"],
        "claims_in_verified_claims_supported": list(CLAIM_NAMES),
    }
