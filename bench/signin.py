"""Full password sign-ins, driven by an asyncio client (wrk cannot follow a multi-step flow).

One sign-in is what a citizen's browser and a portal do together:
GET /authorize (PKCE S256) -> sign-in page (CSRF token) -> POST e-mail and
password, answered with the code at the redirect URI -> POST /oauth/token
(redirects on the service are followed, however many there are). Every flow starts with no cookies: a fresh browser session.
``connections`` flows run at once, as wrk's connections do for the other rows.
"""

import asyncio
import base64
import hashlib
import html
import json
import random
import re
import secrets
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
from yarl import URL

from .database import PASSWORD, REDIRECT_URI, email_of

# The client is named in the row's note. aiohttp, not httpx: the driver runs on the service's cores, and
# httpx spent four to six times aiohttp's CPU per sign-in (bench/README.md). URLs are built with
# ``encoded=True``: the query and the service's Location headers are already percent-encoded and are
# sent exactly as they are.
CLIENT = "aiohttp"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

_INPUT = re.compile(r'<input[^>]*name="(csrf_token|next)"[^>]*value="([^"]*)"')


class FlowError(Exception):
    pass


@dataclass
class Answer:
    """What a flow reads of a response, taken before the connection goes back to the pool."""

    status: int
    url: URL
    location: str
    text: str


class Flow:
    def __init__(self, http: aiohttp.ClientSession, client_id: str, auth: str, accounts: int):
        self.http, self.client_id, self.auth, self.accounts = http, client_id, auth, accounts
        self.cookies: dict[str, str] = {}
        self.requests = 0

    async def get(self, url: URL) -> Answer:
        return await self.send("GET", url)

    async def send(self, method: str, url: URL, headers: dict | None = None, form: dict | None = None) -> Answer:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            headers.update(FORM)
            body = urlencode(form)
        # The session's jar is a DummyCookieJar and redirects are not followed: the flow does both itself.
        async with self.http.request(method, url, headers=headers, data=body, allow_redirects=False) as response:
            text = await response.text()
            self.requests += 1
            for raw in response.headers.getall("Set-Cookie", ()):
                jar = SimpleCookie()
                jar.load(raw)
                for name, morsel in jar.items():
                    self.cookies[name] = morsel.value
            return Answer(response.status, response.url, response.headers.get("Location", ""), text)

    async def follow(self, answer: Answer) -> Answer:
        """Follow redirects on the service until one leaves for the portal's redirect URI."""
        for _ in range(8):
            if answer.status not in (302, 303):
                return answer
            location = answer.url.join(URL(answer.location, encoded=True))
            if str(location).startswith(REDIRECT_URI):
                return answer
            answer = await self.get(location)
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
        page = await self.follow(await self.get(URL("/authorize?" + query, encoded=True)))
        if page.status != 200 or "/sign-in" not in page.url.path:
            raise FlowError(f"expected the sign-in page, got {page.status} {page.url.path} -> "
                            f"{page.location[:300]}")
        fields = {name: html.unescape(value) for name, value in _INPUT.findall(page.text)}
        if "csrf_token" not in fields:
            raise FlowError("no CSRF token on the sign-in page")
        posted = await self.send("POST", page.url, form={"email": email, "password": PASSWORD, **fields})
        if posted.status not in (302, 303):
            raise FlowError(f"sign-in answered {posted.status}")
        final = await self.follow(posted)
        location = str(final.url.join(URL(final.location, encoded=True))) if final.location else ""
        params = parse_qs(urlsplit(location).query)
        if not location.startswith(REDIRECT_URI) or "code" not in params or params.get("state") != [state]:
            raise FlowError(f"no code at the redirect URI: {final.status} {location[:120]}")
        token = await self.send("POST", URL("/oauth/token"), headers={"Authorization": self.auth}, form={
            "grant_type": "authorization_code", "code": params["code"][0], "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier})
        answer = json.loads(token.text) if token.status == 200 else {}
        if "id_token" not in answer:
            raise FlowError(f"token endpoint answered {token.status}: {token.text[:200]}")
        return answer["access_token"], email


def open_session(base: str, connections: int) -> aiohttp.ClientSession:
    """The client the flows share: a keep-alive pool of ``connections`` connections, no redirects followed
    (``Flow.send``) and a cookie jar that keeps nothing: each flow keeps its cookies itself, or later flows
    would ride on an earlier flow's session (single sign-on, no password check)."""
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    return aiohttp.ClientSession(base_url=base, connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                 timeout=aiohttp.ClientTimeout(total=30))


async def _drive(base: str, client_id: str, auth: str, accounts: int, seconds: float, connections: int):
    durations: list[float] = []
    tokens: list[str] = []
    errors: list[str] = []
    requests = 0
    async with open_session(base, connections) as http:
        deadline = time.monotonic() + seconds

        async def worker():
            nonlocal requests
            while time.monotonic() < deadline:
                flow = Flow(http, client_id, auth, accounts)
                start = time.monotonic()
                try:
                    token, _ = await flow.run()
                except (FlowError, aiohttp.ClientError, TimeoutError, KeyError, ValueError) as exc:
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
