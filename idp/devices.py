"""A browser session's device in the citizen's words ("Firefox on Windows"), from its User-Agent.

The account page lists the signed-in sessions so that a citizen can end the one that is not
theirs; a raw User-Agent cut to 60 characters reads the same for Chrome and Edge on Windows.
"""

from functools import lru_cache

from flask_babel import gettext as _
from ua_parser import parse


@lru_cache(maxsize=256)
def _families(user_agent: str) -> tuple[str | None, str | None]:
    parsed = parse(user_agent)
    browser = parsed.user_agent.family if parsed.user_agent else None
    system = parsed.os.family if parsed.os else None
    return browser, system


def describe(user_agent: str | None) -> str:
    browser, system = _families((user_agent or "")[:512])
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or _("Unknown device")
