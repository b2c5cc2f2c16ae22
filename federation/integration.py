"""How federation plugs into the core: hooks, the account-page section, the sign-in button.

Hook contracts (see ``idp/hooks.py``):

- ``session_level(web_session)``: the level the upstream asserted for a session
  signed in upstream (through the acr mapping), else ``None``.
- ``proofing_level(account)``: the highest level at which a linked upstream
  identity proved who the citizen is. Kept because an eID sign-in upstream is
  an identity proof, like the in-person check: without it the rule "level =
  lower of proofing and session strength" would turn every eID sign-in into
  ``low``. It lasts as long as the link; unlinking removes it.
- ``verified_claims(account, web_session, requested)``: the upstream's
  attributes from a sign-in at ``substantial`` or above, as one OIDC4IDA
  ``verified_claims`` object with the upstream as evidence (``vouch``). They
  stand beside whatever the Bürgerbüro verified, with their own evidence, and
  never replace it; the account's own profile is never overwritten.
- ``session_ended`` / ``after_sessions_ended``: mark upstream sessions ended;
  when this browser signed out of a session that came from upstream, the
  sign-in page offers to sign out upstream too (RP-initiated logout).
"""

from flask import current_app, g, render_template, request, session, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from ..idp import auth
from ..idp.hooks import LEVELS
from ..idp.timeutil import utcnow
from . import service, settings as upstream_settings
from .forms import ConfirmForm, UnlinkForm
from .models import FederatedSession
from .settings import by_name
from .views import LOGOUT_OFFER_KEY

VERIFIED_LEVELS = ("substantial", "high")


def session_level(web_session) -> str | None:
    # Only a session whose sign-in came from upstream (amr "fed", set by service.sign_in) has a level
    # there: one that signed in again with a password since then answers for that password.
    if web_session is None or not getattr(web_session, "sid", None) or \
            service.AMR_FEDERATED not in (web_session.amr or []):
        return None
    federated = FederatedSession.query.filter_by(sid=web_session.sid, ended_at=None).first()
    return federated.level if federated is not None else None


def proofing_level(account) -> str | None:
    levels = [identity.level for identity in service.identities(account) if identity.level in LEVELS]
    return max(levels, key=LEVELS.index) if levels else None


def verified_claims(account, web_session, requested) -> list[dict]:
    """OIDC4IDA ``verified_claims`` vouched for by the upstream (eID-read attributes)."""
    result = []
    for identity in service.identities(account):
        if identity.level not in VERIFIED_LEVELS or not identity.claims:
            continue
        claims = {name: value for name, value in identity.claims.items()
                  if name in ("given_name", "family_name", "birthdate", "place_of_birth", "nationalities",
                              "address")}
        if not claims:
            continue
        wanted = _requested_names(requested)
        if wanted is not None:
            claims = {name: value for name, value in claims.items() if name in wanted}
            if not claims:
                continue
        settings = upstream_settings.current()
        same_upstream = settings is not None and settings.issuer == identity.issuer
        voucher = (upstream_settings.display_name() if same_upstream else None) or identity.issuer
        time = identity.verified_at.replace(microsecond=0).isoformat() + "Z" if identity.verified_at else None
        verification = {
            "trust_framework": current_app.config.get("UPSTREAM_TRUST_FRAMEWORK", "eidas"),
            "assurance_level": identity.level,
            "evidence": [{
                "type": "vouch",
                "attestation": {"type": "digital_attestation", "reference_number": identity.acr or ""},
                "voucher": {"organization": voucher, "country": "DE"},
                **({"time": time} if time else {}),
            }],
        }
        if time:
            verification["time"] = time
        result.append({"verification": verification, "claims": claims})
    return result


def _requested_names(requested) -> set | None:
    """Claim names a ``verified_claims`` request asks for; ``None`` means no restriction."""
    if not isinstance(requested, dict):
        return None
    claims = requested.get("claims")
    return set(claims) if isinstance(claims, dict) and claims else None


def session_ended(web_session, reason: str) -> None:
    federated = FederatedSession.query.filter_by(sid=web_session.sid, ended_at=None).first()
    if federated is None:
        return
    federated.ended_at = utcnow()
    current = auth.current_record()
    if reason != "upstream-logout" and current is not None and current.id == web_session.id:
        g.federation_logout_offer = federated.id


def after_sessions_ended(records) -> None:
    offer = g.pop("federation_logout_offer", None)
    if offer is not None:
        session[LOGOUT_OFFER_KEY] = offer


def export(account) -> dict:
    return {"links": [{
        "issuer": identity.issuer,
        "subject": identity.subject,
        "linked_at": identity.linked_at.isoformat() + "Z",
        "last_sign_in_at": identity.last_sign_in_at.isoformat() + "Z" if identity.last_sign_in_at else None,
        "acr": identity.acr,
        "level": identity.level,
        "claims": identity.claims,
    } for identity in service.identities(account)]}


def account_section(account) -> Markup:
    settings = upstream_settings.current()
    links = service.identities(account)
    if not links and (settings is None or not settings.client_id):
        return Markup("")
    return Markup(render_template(
        "federation/_account_section.html", links=links, settings=settings,
        can_unlink={identity.id: service.other_way_in(account, identity) for identity in links},
        form=UnlinkForm(), has_password=bool(account.password_hash)))


def sign_in_extras() -> dict:
    """The sign-in page's extra ways in: the upstream button, and the offer to sign out upstream."""
    if request.endpoint != "auth.sign_in":
        return {}
    settings = upstream_settings.current()
    if settings is None or not settings.client_id:
        return {}
    next_path = request.args.get("next") or request.form.get("next")
    # Rendered directly from the environment: render_template would run the context processors
    # again, this one included.
    template = current_app.jinja_env.get_template("federation/_sign_in_extras.html")
    return {"sign_in_extras": [Markup(template.render(
        next=next_path, settings=settings, logout_offer=session.get(LOGOUT_OFFER_KEY) is not None,
        form=ConfirmForm()))]}


def step_up_options(web_session, next_path: str | None = None) -> dict:
    """The step-up page's way through the Land's service account (eID), when one is configured."""
    settings = upstream_settings.current()
    if settings is None or not settings.client_id:
        return {}
    return {"state_account": {
        "label": by_name(_("Sign in with %(name)s"), _("Sign in with the service account of the Land")),
        "description": _("With the online ID function of your ID card you reach the highest level."),
        "url": url_for("federation.start", next=next_path or "/account"),
    }}


def discovery_metadata() -> dict:
    """What discovery advertises for attributes vouched for by the Land's service account."""
    settings = upstream_settings.current()
    if settings is None or not settings.client_id:
        return {}
    return {
        "trust_frameworks_supported": [current_app.config.get("UPSTREAM_TRUST_FRAMEWORK", "eidas")],
        "evidence_supported": ["vouch"],
        "claims_in_verified_claims_supported": ["given_name", "family_name", "birthdate", "place_of_birth",
                                                "address", "nationalities"],
    }
