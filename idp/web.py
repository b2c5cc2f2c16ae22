"""Cross-cutting web concerns: security headers, safe redirects, language, problem details."""

import io
import re
from urllib.parse import unquote, unquote_to_bytes, urlencode, urlsplit

from flask import current_app, has_request_context, jsonify, redirect, request, session, url_for
from werkzeug.exceptions import BadRequest, HTTPException, UnsupportedMediaType
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Request

from .hooks import hooks

# Endpoints that portals call server to server (token, userinfo, JWKS, the APIs): they answer
# problem details or OAuth errors, and ignore the browser session cookie.
MACHINE_PATHS = ("/api/", "/oauth/", "/.well-known/")

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


_EVERY_RESPONSE = (("Content-Security-Policy", CSP), ("X-Frame-Options", "DENY"),
                   # same-origin, not no-referrer: no other site learns our addresses (reset links carry
                   # tokens), while our own forms keep their Referer, which Flask-WTF's CSRF check demands
                   # over HTTPS (WTF_CSRF_SSL_STRICT); under no-referrer browsers also send "Origin: null"
                   # with every POST.
                   ("Referrer-Policy", "same-origin"), ("X-Content-Type-Options", "nosniff"))


def security_headers(response):
    """Headers every page carries (clickjacking, referrer leaks, sniffing, caching), unless it set its own.

    The names present are collected once: werkzeug's ``Headers.setdefault`` raises and catches a
    ``KeyError`` (an HTTP exception, costly to build) for every header that is missing.
    """
    headers = response.headers
    present = {name.lower() for name in headers.keys()}
    for name, value in _EVERY_RESPONSE:
        if name.lower() not in present:
            headers.add(name, value)
    if "strict-transport-security" not in present and (
            request.is_secure or current_app.config["ISSUER"].startswith("https://")):
        headers.add("Strict-Transport-Security", "max-age=31536000")
    if "cache-control" not in present and not request.path.startswith("/static/"):
        headers.add("Cache-Control", "no-store")
    return response


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def refuse_unreadable_input():
    """Refuse up front what no form here can take.

    - NUL characters (400): no text a person types contains one, and PostgreSQL cannot store it.
    - On a page, a body that is no form (415): Flask-WTF would read a JSON body as the form's fields
      (a list, a number or deep nesting failed with a 500), and a form of the right kind with its
      fields missing would then clear an optional one. APIs and OAuth endpoints read their own bodies.
    """
    query = request.environ.get("QUERY_STRING", "")
    # A NUL in the query string arrives as "%00" (or raw): only then are its values worth decoding.
    values = [request.path, *(request.args.values() if "%00" in query or "\x00" in query else ())]
    if request.method in ("POST", "PUT", "PATCH"):
        if request.mimetype in FORM_TYPES:
            values.extend(request.form.values())
        elif (request.content_length or "chunked" in request.headers.get("Transfer-Encoding", "")) \
                and not request.path.startswith(MACHINE_PATHS):
            raise UnsupportedMediaType("A page takes the fields of a form.")
    if any("\x00" in value for value in values):
        raise BadRequest("The request contains a NUL character.")


_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f]")


def safe_next(target: str | None, default: str = "/account") -> str:
    """Return ``target`` when it is a path of this service, else ``default`` (no open redirect)."""
    if not target or len(target) > 2000:
        return default
    if "\\" in target or _CONTROL_CHARACTER.search(target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def continue_to(target: str):
    """Where a finished sign-in goes on to ``target`` (a path of this service, ``safe_next``'s result).

    Mostly that is a portal's authorization request, whose only answer is a redirect to the portal
    with the code. A part that can answer its page here (``Hooks.continuations``) does, in this
    response: the browser goes straight to the portal, one round trip (and one request's reading of
    the session) fewer per sign-in. The part gets the request the browser would have sent: a GET of
    ``target`` with this request's headers, cookie and address. Anything else is redirected to.
    """
    path, _, query = target.partition("#")[0].partition("?")  # (a browser keeps a fragment to itself)
    root = request.script_root
    if root and (path == root or path.startswith(root + "/")):
        path = path[len(root):]
    endpoint, view_args = _route(unquote(path))
    handler = hooks().continuations.get(endpoint)
    if handler is None:
        return redirect(target)
    return handler(browser_get(path, query), target, **view_args)


def browser_get(path: str, query: str) -> Request:
    """The GET of ``path`` (below the script root, percent-encoded) with ``query`` that this request's
    browser would send: its headers, cookie and address, no body."""
    environ = {**request.environ, "REQUEST_METHOD": "GET", "QUERY_STRING": query,
               "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),  # (WSGI's form: the bytes as latin-1)
               "CONTENT_LENGTH": "0", "wsgi.input": io.BytesIO()}
    environ.pop("CONTENT_TYPE", None)
    return Request(environ)


# Where each kind of browser session signs in. The staff sign-in belongs to trust_levels, which idp
# does not import: staff sessions exist only with it, so its endpoint is named, not imported.
SIGN_IN_ENDPOINTS = {"citizen": "auth.sign_in", "staff": "trust_staff.sign_in"}


def sign_in_url(kind: str = "citizen", next_url: str | None = None) -> str:
    """The sign-in page for a session of ``kind``, returning to ``next_url`` (a path of this service)."""
    endpoint = SIGN_IN_ENDPOINTS.get(kind, SIGN_IN_ENDPOINTS["citizen"])
    if endpoint not in current_app.view_functions:
        endpoint = SIGN_IN_ENDPOINTS["citizen"]
    return url_for(endpoint, next=next_url)  # (no next: no parameter)


def form_page() -> str | None:
    """The page the form just posted came from, or ``None`` when that cannot be told.

    The Referer is not relied on (privacy settings and proxies strip it), so the page is found from
    the address the form was posted to: forms either post to their own page (``/account/password``,
    ``/sign-in?next=...``, query kept) or to an action below it (``/staff/verifications/<id>/revoke``,
    ``/postbox/<id>/delete``), so the nearest address at or above it that shows a page is taken.
    A form that carries where to go afterwards in a ``next`` field (the sign-in) gets it back as
    ``?next=``, its page's way of receiving it. The start page is no form's page.
    """
    if request.method != "POST" or request.path.startswith(MACHINE_PATHS):
        return None
    if page_endpoint(request.path) is not None:
        page = request.full_path.rstrip("?")
        if not request.query_string and safe_next(request.form.get("next"), default=None):
            page = f"{request.path}?{urlencode({'next': request.form['next']})}"
        return safe_next(page, default=None)
    path = request.path.rstrip("/")
    while "/" in path.strip("/"):
        path = path.rsplit("/", 1)[0]
        if page_endpoint(path) is not None:
            return path
    return None


# Addresses that answer GET but are steps of a portal's sign-in, not pages to come back to: without
# the portal's request (gone with the session) they show only an error.
_PROTOCOL_STEPS = ("oidc_authorize.",)


def page_endpoint(path: str) -> str | None:
    """The endpoint that shows ``path`` to a browser (answers GET), or ``None``; the start page and the
    steps of a portal's sign-in are none."""
    if path in ("", "/"):
        return None
    endpoint, _arguments = _route(path)
    return None if endpoint is None or endpoint.startswith(_PROTOCOL_STEPS) else endpoint


def _route(path: str) -> tuple[str | None, dict]:
    """The endpoint that answers a GET of ``path`` (below the script root) and its arguments; (None, {})."""
    try:
        return current_app.url_map.bind("").match(path, method="GET")
    except (HTTPException, RequestRedirect):
        return None, {}


def select_locale() -> str:
    """German by default; English by switch, ``ui_locales`` or ``Accept-Language``.

    The switcher's ``?lang=`` and an OpenID Connect ``ui_locales`` (the first
    supported tag) are remembered in the session, so the sign-in pages that
    follow a portal's authorization request keep its language.
    """
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        # The CLI and mail delivery: the default language (mails use ``force_locale``).
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = request.args.get("lang")
    if chosen in languages:
        _remember_locale(chosen)
        return chosen
    for tag in (request.args.get("ui_locales") or "").split()[:10]:
        base = tag.split("-")[0].lower()
        if base in languages:
            _remember_locale(base)
            return base
    if session.get("locale") in languages:
        return session["locale"]
    return request.accept_languages.best_match(languages, default=languages[0])


def _remember_locale(locale: str) -> None:
    if session.get("locale") != locale:  # unchanged: no session write
        session["locale"] = locale


def wants_problem_json() -> bool:
    """API paths and clients asking for JSON get RFC 9457 problem details."""
    if request.path.startswith(MACHINE_PATHS):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/problem+json"])
    return best in ("application/json", "application/problem+json")


def problem(status: int, title: str, detail: str | None = None, **extra):
    """An ``application/problem+json`` response (RFC 9457)."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response
