"""A demo municipal portal ("Stadt Leer", "Landkreis Leer") signing citizens in with the Bürgerkonto.

It is what a portal operator would build with a well-known client library
(Authlib's Flask client): code flow with PKCE S256 and nonce, single sign-on,
step-up to ``substantial`` for one service, the shared postbox read through the
API with the citizen's token, a status update sent with the portal's own
client-credentials token, RP-initiated logout and back-channel logout.
"""

import base64
import json
import secrets
import time

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from flask import Flask, abort, flash, redirect, render_template, request, session, url_for

LOA = "http://eidas.europa.eu/LoA/"
LEVELS = ["low", "substantial", "high"]
# The levels' German names (BSI TR-03107-1), as the portal's German pages show them.
LEVEL_NAMES = {"low": "normal", "substantial": "substantiell", "high": "hoch"}
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def level_of(acr: str | None) -> str:
    if acr and acr.startswith(LOA) and acr[len(LOA):] in LEVELS:
        return acr[len(LOA):]
    return "low"


def create_portal_app(config: dict) -> Flask:
    """``config``: NAME, ISSUER, CLIENT_ID, CLIENT_SECRET, BASE_URL, SESSION_DB, SECRET_KEY, COLOR."""
    from .store import SessionStore

    app = Flask(__name__)
    app.config.update(SESSION_COOKIE_NAME="portal_" + config["CLIENT_ID"][:8], SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_HTTPONLY=True)
    app.config.update(config)
    store = SessionStore(config["SESSION_DB"])
    oauth = OAuth(app)
    idp = oauth.register(
        "buergerkonto",
        client_id=config["CLIENT_ID"],
        client_secret=config["CLIENT_SECRET"],
        server_metadata_url=config["ISSUER"] + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile email postbox.read postbox.manage",
                       "code_challenge_method": "S256", "timeout": 5},
    )
    api = config["ISSUER"] + "/api/postbox/v1"

    def current():
        return store.get(session.get("portal_session"))

    def access_token(row) -> str:
        """The citizen's access token, refreshed when it is about to expire."""
        if row["expires_at"] - 30 > time.time() or not row["refresh_token"]:
            return row["access_token"]
        response = requests.post(idp.load_server_metadata()["token_endpoint"], timeout=5,
                                 auth=(config["CLIENT_ID"], config["CLIENT_SECRET"]),
                                 data={"grant_type": "refresh_token", "refresh_token": row["refresh_token"]})
        if not response.ok:
            store.end(row["id"])
            abort(401)
        token = response.json()
        store.update_tokens(row["id"], token)
        return token["access_token"]

    def portal_token() -> str:
        """The portal's own token for sending to the postbox (client credentials)."""
        metadata = idp.load_server_metadata()
        response = requests.post(metadata["token_endpoint"], timeout=5,
                                 auth=(config["CLIENT_ID"], config["CLIENT_SECRET"]),
                                 data={"grant_type": "client_credentials", "scope": "postbox.send"})
        response.raise_for_status()
        return response.json()["access_token"]

    @app.after_request
    def headers(response):
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.context_processor
    def inject():
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(24)
        return {"portal": config, "citizen": current(), "csrf": session["csrf"], "level_of": level_of,
                "level_names": LEVEL_NAMES}

    def check_csrf():
        if not secrets.compare_digest(request.form.get("csrf", ""), session.get("csrf", "") or "x"):
            abort(400)

    @app.route("/")
    def home():
        return render_template("home.html")

    @app.route("/login")
    def login():
        level = request.args.get("level")
        next_page = request.args.get("next") if request.args.get("next", "").startswith("/") else "/"
        session["after_login"] = next_page if not next_page.startswith("//") else "/"
        extra = {}
        if level in LEVELS:
            extra["acr_values"] = LOA + level
            extra["claims"] = json.dumps({"id_token": {"acr": {"essential": True, "values": [LOA + level]}}})
        return idp.authorize_redirect(config["BASE_URL"] + "/callback", **extra)

    @app.route("/callback")
    def callback():
        try:
            token = idp.authorize_access_token()
        except OAuthError as exc:
            if exc.error == "unmet_authentication_requirements":
                flash("Die nötige Vertrauensstufe wurde nicht erreicht. Sie können Ihre Identität im "
                      "Bürgerbüro bestätigen lassen.")
            else:
                flash(f"Die Anmeldung wurde nicht abgeschlossen ({exc.error}).")
            return redirect(url_for("home"))
        claims = token["userinfo"]
        old = current()
        if old:
            store.end(old["id"])
        session["portal_session"] = store.create(token, claims)
        return redirect(session.pop("after_login", "/"))

    @app.route("/service")
    def service():
        """A service that needs the level ``substantial`` (for example a residence certificate)."""
        row = current()
        if row is None or LEVELS.index(level_of(row["acr"])) < LEVELS.index("substantial"):
            return render_template("service.html", allowed=False)
        return render_template("service.html", allowed=True)

    @app.route("/postbox")
    def postbox():
        row = current()
        if row is None:
            return redirect(url_for("login", next="/postbox"))
        response = requests.get(api + "/messages", timeout=5,
                                headers={"Authorization": f"Bearer {access_token(row)}"})
        messages = response.json().get("items", []) if response.ok else []
        return render_template("postbox.html", messages=messages, status=response.status_code)

    @app.route("/postbox/<message_id>")
    def message(message_id):
        row = current()
        if row is None:
            return redirect(url_for("login", next=f"/postbox/{message_id}"))
        response = requests.get(f"{api}/messages/{message_id}", timeout=5,
                                headers={"Authorization": f"Bearer {access_token(row)}"})
        if response.status_code == 404:
            abort(404)
        return render_template("message.html", message=response.json(), status=response.status_code)

    @app.route("/postbox/<message_id>/attachments/<int:number>")
    def attachment(message_id, number):
        row = current()
        if row is None:
            abort(401)
        response = requests.get(f"{api}/messages/{message_id}/attachments/{number}", timeout=10,
                                headers={"Authorization": f"Bearer {access_token(row)}"})
        if not response.ok:
            abort(response.status_code)
        return response.content, 200, {
            "Content-Type": response.headers.get("Content-Type", "application/octet-stream"),
            "Content-Disposition": response.headers.get("Content-Disposition", "attachment"),
        }

    @app.route("/send-status", methods=["POST"])
    def send_status():
        """Send a status update about a (demo) application to the signed-in citizen's postbox."""
        check_csrf()
        row = current()
        if row is None:
            return redirect(url_for("login"))
        body = {
            "recipient": row["sub"],
            "kind": "status",
            "status": request.form.get("status", "RECEIVED"),
            "reference": request.form.get("reference", "DEMO-2026-001"),
            "subject": f"{config['NAME']}: Ihr Antrag {request.form.get('reference', 'DEMO-2026-001')}",
            "body": "Der Status Ihres Antrags hat sich geändert.",
        }
        if request.form.get("with_pdf"):
            body["kind"] = "notice"
            body.pop("status")
            body["subject"] = f"{config['NAME']}: Bescheid"
            body["body"] = "Anbei erhalten Sie Ihren Bescheid."
            body["attachments"] = [{"filename": "bescheid.pdf", "content_type": "application/pdf",
                                    "content": base64.b64encode(demo_pdf(config["NAME"])).decode()}]
        response = requests.post(api + "/messages", json=body, timeout=10,
                                 headers={"Authorization": f"Bearer {portal_token()}",
                                          "Idempotency-Key": secrets.token_urlsafe(16)})
        flash("Die Nachricht wurde gesendet." if response.ok else f"Senden fehlgeschlagen ({response.status_code}).")
        return redirect(url_for("home"))

    @app.route("/logout", methods=["POST"])
    def logout():
        check_csrf()
        row = current()
        session.pop("portal_session", None)
        if row is None:
            return redirect(url_for("home"))
        store.end(row["id"])
        return idp.logout_redirect(post_logout_redirect_uri=config["BASE_URL"] + "/",
                                   id_token_hint=row["id_token"])

    @app.route("/backchannel-logout", methods=["POST"])
    def backchannel_logout():
        """OpenID Connect Back-Channel Logout 1.0: end the sessions named by the logout token."""
        token = request.form.get("logout_token", "")
        try:
            claims = verify_logout_token(idp, token, config)
        except (JoseError, ValueError):
            return {"error": "invalid_request"}, 400, {"Cache-Control": "no-store"}
        store.end_by_sid(claims.get("sid"), claims.get("sub"))
        return "", 200, {"Cache-Control": "no-store"}

    return app


def verify_logout_token(idp, token: str, config: dict) -> dict:
    """Validate a logout token as Back-Channel Logout 1.0 §2.6 asks."""
    metadata = idp.load_server_metadata()
    algorithms = ["ES256", "RS256"]
    try:
        decoded = jwt.decode(token, KeySet.import_key_set(idp.fetch_jwk_set()), algorithms=algorithms)
    except JoseError:
        # The provider may have rotated its keys since we cached them.
        decoded = jwt.decode(token, KeySet.import_key_set(idp.fetch_jwk_set(force=True)), algorithms=algorithms)
    if decoded.header.get("typ") not in (None, "logout+jwt"):
        raise ValueError("wrong token type")
    jwt.JWTClaimsRegistry(
        leeway=30,
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": config["CLIENT_ID"]},
        iat={"essential": True},
        exp={"essential": True},
    ).validate(decoded.claims)
    claims = decoded.claims
    events = claims.get("events") or {}
    if BACKCHANNEL_EVENT not in events or "nonce" in claims or not (claims.get("sid") or claims.get("sub")):
        raise ValueError("not a logout token")
    return claims


def demo_pdf(portal_name: str) -> bytes:
    """A small, valid one-page PDF notice (built by hand: no PDF library needed for one line)."""
    text = f"Bescheid - {portal_name}".encode("latin-1", "replace")
    stream = b"BT /F1 18 Tf 72 720 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
