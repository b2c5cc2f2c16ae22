"""Full password sign-ins, driven by an asyncio client (wrk cannot follow a multi-step flow).

One sign-in is what a citizen's browser and a portal do together:
GET /authorize (PKCE S256) -> sign-in page (CSRF token) -> POST e-mail and
password -> back through /authorize -> code at the redirect URI -> POST
/oauth/token. Every flow starts with no cookies: a fresh browser session.
``connections`` flows run at once, as wrk's connections do for the other rows.
"""

import asyncio
import base64
import hashlib
import html
import random
import re
import secrets
import time
from http.cookiejar import CookieJar, DefaultCookiePolicy
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

from .database import PASSWORD, REDIRECT_URI, email_of

_INPUT = re.compile(r'<input[^>]*name="(csrf_token|next)"[^>]*value="([^"]*)"')


class FlowError(Exception):
    pass


class Flow:
    def __init__(self, http: httpx.AsyncClient, client_id: str, auth: str, accounts: int):
        self.http, self.client_id, self.auth, self.accounts = http, client_id, auth, accounts
        self.cookies: dict[str, str] = {}
        self.requests = 0

    async def get(self, url: str, **kwargs) -> httpx.Response:
        return await self.send("GET", url, **kwargs)

    async def send(self, method: str, url: str, **kwargs) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = await self.http.request(method, url, headers=headers, **kwargs)
        self.requests += 1
        for raw in response.headers.get_list("set-cookie"):
            jar = SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                self.cookies[name] = morsel.value
        return response

    async def follow(self, response: httpx.Response) -> httpx.Response:
        """Follow redirects on the service until one leaves for the portal's redirect URI."""
        for _ in range(8):
            if response.status_code not in (302, 303):
                return response
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(REDIRECT_URI):
                return response
            response = await self.get(location)
        raise FlowError("too many redirects")

    async def run(self) -> tuple[str, str]:
        """One sign-in; returns (access token, e-mail)."""
        email = email_of(random.randint(1, self.accounts))
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(12)
        query = urlencode({"response_type": "code", "client_id": self.client_id, "redirect_uri": REDIRECT_URI,
                           "scope": "openid profile email", "state": state, "nonce": secrets.token_urlsafe(12),
                           "code_challenge": challenge, "code_challenge_method": "S256"})
        page = await self.follow(await self.get("/authorize?" + query))
        if page.status_code != 200 or "/sign-in" not in str(page.url):
            raise FlowError(f"expected the sign-in page, got {page.status_code} {page.url.path} -> "
                            f"{page.headers.get('location', '')[:300]}")
        fields = {name: html.unescape(value) for name, value in _INPUT.findall(page.text)}
        if "csrf_token" not in fields:
            raise FlowError("no CSRF token on the sign-in page")
        posted = await self.send("POST", str(page.url), data={"email": email, "password": PASSWORD, **fields})
        if posted.status_code not in (302, 303):
            raise FlowError(f"sign-in answered {posted.status_code}")
        final = await self.follow(posted)
        location = final.headers.get("location", "")
        params = parse_qs(urlsplit(location).query)
        if not location.startswith(REDIRECT_URI) or "code" not in params or params.get("state") != [state]:
            raise FlowError(f"no code at the redirect URI: {final.status_code} {location[:120]}")
        token = await self.send("POST", "/oauth/token", headers={"Authorization": self.auth}, data={
            "grant_type": "authorization_code", "code": params["code"][0], "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier})
        if token.status_code != 200 or "id_token" not in token.json():
            raise FlowError(f"token endpoint answered {token.status_code}: {token.text[:200]}")
        return token.json()["access_token"], email


async def _drive(base: str, client_id: str, auth: str, accounts: int, seconds: float, connections: int):
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    durations: list[float] = []
    tokens: list[str] = []
    errors: list[str] = []
    requests = 0
    # The client's own cookie jar refuses everything: each flow keeps its cookies itself, or
    # later flows would ride on an earlier flow's session (single sign-on, no password check).
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30, cookies=no_cookies) as http:
        deadline = time.monotonic() + seconds

        async def worker():
            nonlocal requests
            while time.monotonic() < deadline:
                flow = Flow(http, client_id, auth, accounts)
                start = time.monotonic()
                try:
                    token, _ = await flow.run()
                except (FlowError, httpx.HTTPError, KeyError, ValueError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                else:
                    durations.append(time.monotonic() - start)
                    tokens.append(token)
                requests += flow.requests

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.monotonic() - started
    return durations, tokens, errors, requests, elapsed


def run_signins(base: str, client_id: str, auth: str, accounts: int, seconds: float, connections: int):
    """Run sign-ins for ``seconds``; returns (durations, access tokens, errors, HTTP requests, elapsed)."""
    return asyncio.run(_drive(base, client_id, auth, accounts, seconds, connections))
