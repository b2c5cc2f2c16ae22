"""The citizen's view of the provider: portals used, what they received, consents to revoke.

Also the account-level hooks: export (DSGVO Art. 15) and deletion.
"""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from .. import auth, events
from ..extensions import db
from ..forms import EmptyForm
from ..timeutil import utcnow
from .grants import revoke_tokens
from .models import AuthorizationCode, Consent, PortalSignIn, Token

bp = Blueprint("oidc_account", __name__, template_folder="templates")


def portals_used(account_id: int) -> list[dict]:
    """One entry per portal: when it was last used, which scopes and claims it received."""
    portals: dict[str, dict] = {}
    rows = (PortalSignIn.query.filter_by(account_id=account_id)
            .order_by(PortalSignIn.last_used_at.desc()).all())
    for row in rows:
        entry = portals.setdefault(row.client_id, {"client": row.client, "last_used_at": row.last_used_at,
                                                   "scopes": set(), "claims": set()})
        entry["scopes"] |= set(row.scope.split()) - {"openid"}
        entry["claims"] |= set(row.claims or [])
    return list(portals.values())


def account_section(account) -> Markup:
    consents = (Consent.query.filter_by(account_id=account.id, revoked_at=None)
                .order_by(Consent.created_at).all())
    return Markup(render_template("oidc/account_section.html", portals=portals_used(account.id),
                                  consents=consents, form=EmptyForm()))


# The id's range is the column's: a larger number reached the database (a 500), now it is a 404.
@bp.route("/account/consents/<int(max=2147483647):consent_id>/revoke", methods=["POST"])
@auth.login_required
def revoke_consent(consent_id):
    form = EmptyForm()
    account = auth.current_account()
    consent = db.session.get(Consent, consent_id)
    if not form.validate_on_submit() or consent is None or consent.account_id != account.id:
        flash(_("The consent could not be revoked."), "error")
        return redirect(url_for("account.overview"))
    consent.revoked_at = utcnow()
    # Offline access rests on the consent: the portal's refresh tokens end with it.
    revoke_tokens(Token.account_id == account.id, Token.client_id == consent.client_id)
    events.record("oidc:consent:revoke", account.id, client_id=consent.client_id)
    db.session.commit()
    flash(_("The consent was revoked."), "success")
    return redirect(url_for("account.overview"))


def export(account) -> dict:
    return {
        "portals": [{"client_id": p["client"].client_id, "name": p["client"].name,
                     "last_used_at": p["last_used_at"].isoformat() + "Z", "scopes": sorted(p["scopes"]),
                     "claims": sorted(p["claims"])} for p in portals_used(account.id)],
        "consents": [{"client_id": c.client_id, "scope": c.scope, "created_at": c.created_at.isoformat() + "Z",
                      "revoked_at": c.revoked_at.isoformat() + "Z" if c.revoked_at else None}
                     for c in Consent.query.filter_by(account_id=account.id)],
    }


def delete(account) -> None:
    """Remove the account's provider records (SQLite does not enforce the cascades)."""
    for model in (Token, AuthorizationCode, Consent, PortalSignIn):
        model.query.filter_by(account_id=account.id).delete()
