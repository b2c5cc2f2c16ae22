"""What the request log may show: every request, none of the secrets in its address.

Addresses carry secrets: the links in mails have their token in the path
(``/confirm-email/<token>``, ``/reset-password/<token>``, a staff member's
``/setup/<token>``), and query strings carry authorization codes, ``state`` and
e-mail addresses (``login_hint``). ``redact`` replaces them with ``[redacted]``;
the path tokens are those of every route whose variable is named ``token``,
read from the app's URL map (``init_app``), so a new route of that kind is
covered without a list to keep up to date.

``GunicornLogger`` (``gunicorn --logger-class``, set by ``buergerkonto serve``)
writes gunicorn's default access line ("combined" format) with the request
target redacted. It builds the line itself rather than gunicorn's dictionary of
every header and environ variable per request: 5.6 % of a userinfo request's CPU
went there. An operator's own ``--access-logformat`` still works, through
gunicorn's code, with the redacted target. Flask's development server gets the
same redaction through a logging filter.
"""

import logging
import re
import time

from gunicorn.glogging import Logger

REDACTED = "[redacted]"
# A parameter may also sit percent-encoded inside another one's value, once or more: a portal's
# authorization request travels in the sign-in page's ``next`` (``next=/authorize%3Fstate%3D...``,
# ``%253F`` a level deeper). So "?", "&", ";" and "=" are matched raw or encoded at any depth.
_SEPARATOR = r"(?:[?&;]|%(?:25)*(?:3[fF]|26|3[bB]))"
_EQUALS = r"(?:=|%(?:25)*3[dD])"
_SECRET_PARAMETER = re.compile(
    rf"((?:^|{_SEPARATOR})[\w.-]*(?:code|token|id_token_hint|client_secret|password|state|login_hint){_EQUALS})"
    rf"(?:(?!%(?:25)*(?:26|3[bB]))[^&;\s\"])*")
_secret_path: re.Pattern | None = None  # set by ``init_app`` once the routes are known


def init_app(app) -> None:
    """Learn the routes with a secret in the path; redact Flask's development server log too."""
    global _secret_path
    prefixes = sorted({rule.rule.split("<", 1)[0] for rule in app.url_map.iter_rules()
                       if "token" in rule.arguments and rule.rule.split("<", 1)[0]})
    if prefixes:
        _secret_path = re.compile("(" + "|".join(re.escape(prefix) for prefix in prefixes) + r")[^/?#\s\"]+")
    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, _RedactFilter) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(_RedactFilter())


def redact(target: str) -> str:
    """``target`` (a path with its query string, or a whole request line) without its secrets."""
    if _secret_path is not None:
        target = _secret_path.sub(r"\1" + REDACTED, target)
    if "=" in target or "%" in target:
        target = _SECRET_PARAMETER.sub(r"\1" + REDACTED, target)
    return target


class _RedactFilter(logging.Filter):
    """The development server logs the request line as an argument of its record."""

    def filter(self, record):
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


_DEFAULT_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'


class GunicornLogger(Logger):
    """gunicorn's logger; the access line is built directly and its request target redacted."""

    _second = None
    _stamp = ""

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        referer = environ.get("HTTP_REFERER")
        if self.cfg.access_log_format != _DEFAULT_FORMAT:
            environ = dict(environ, RAW_URI=redact(environ.get("RAW_URI", "")),
                           QUERY_STRING=redact(environ.get("QUERY_STRING", "")),
                           PATH_INFO=redact(environ.get("PATH_INFO", "")), HTTP_REFERER=redact(referer or "-"))
            super().access(resp, req, environ, request_time)
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        sent = getattr(resp, "sent", None)
        line = '%s - %s %s "%s %s %s" %s %s "%s" "%s"' % (
            environ.get("REMOTE_ADDR", "-"), self._get_user(environ) or "-", self._now(),
            environ["REQUEST_METHOD"], redact(environ.get("RAW_URI", "")), environ["SERVER_PROTOCOL"], status,
            "-" if sent is None else sent, redact(referer) if referer else "-", environ.get("HTTP_USER_AGENT", "-"))
        try:
            self.access_log.info("%s", line)
        except Exception:  # as gunicorn does: a broken log line must not break the response
            self.error("access log: could not write a line")

    def _now(self) -> str:
        second = int(time.time())  # strftime once a second, not once a request
        if second != self._second:
            self._second, self._stamp = second, self.now()
        return self._stamp
