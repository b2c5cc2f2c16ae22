"""What portals receive, in the citizen's words.

The consent page and the account page name data ("Your e-mail address"), never the protocol's
names (``given_name``, ``email_verified``, ``offline_access``, ``postbox.read``): a citizen
cannot be asked to agree to, or check, what they cannot read.
"""

from flask_babel import lazy_gettext as _l

from . import api_scopes
from .claims import SCOPE_CLAIMS
from .consents import VERIFIED_CLAIMS

# In the order the pages list them.
SCOPE_TEXTS = {
    "profile": _l("Your name and language"),
    "email": _l("Your e-mail address"),
    "address": _l("Your postal address"),
    "phone": _l("Your phone number"),
}
# Plain words for OIDC4IDA ``verified_claims``: the data of the ID card or passport as checked at the
# Bürgerbüro (or read by the eID), which is more than the citizen's own entries ("Your name").
VERIFIED_TEXT = _l("Your identity data as confirmed by the check of your ID card or passport (such as "
                   "your name, date of birth and address), if your identity was checked")
OFFLINE_TEXT = _l("Access to this data while you are not signed in, until you revoke it on your account page")
_SCOPE_OF_CLAIM = {claim: scope for scope, claims in SCOPE_CLAIMS.items() for claim in claims}


def scope_texts(scopes) -> list:
    """What granting ``scopes`` gives a portal; ``consents.VERIFIED_CLAIMS`` among them is the
    consent item for verified identity data."""
    scopes = set(scopes)
    texts = [text for scope, text in SCOPE_TEXTS.items() if scope in scopes]
    if VERIFIED_CLAIMS in scopes:
        texts.append(VERIFIED_TEXT)
    texts += api_scopes.descriptions(sorted(scopes))
    if "offline_access" in scopes:
        texts.append(OFFLINE_TEXT)
    return texts


def received_texts(claims, scopes=()) -> list:
    """What a portal received: the data behind the ``claims`` it was given, and its API access."""
    claims = set(claims)
    texts = [text for scope, text in SCOPE_TEXTS.items()
             if any(_SCOPE_OF_CLAIM.get(claim) == scope for claim in claims)]
    if "verified_claims" in claims:
        texts.append(_l("Your verified identity data"))
    if claims & {"acr", "amr", "auth_time"}:
        texts.append(_l("How and when you signed in"))
    return texts + api_scopes.descriptions(sorted(set(scopes)))


def init_app(app) -> None:
    app.add_template_global(scope_texts, "scope_texts")
    app.add_template_global(received_texts, "received_texts")
