"""A form-filling wrapper around Flask's test client that behaves like a browser.

It fetches a page, takes the form's hidden fields (the CSRF token among them)
and posts to the form's action, so every test goes through CSRF protection
exactly as a citizen's browser would.
"""

from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup


class Browser:
    def __init__(self, client, base: str = "http://localhost"):
        self.client = client
        self.base = base
        self.last = None

    def get(self, url, **kwargs):
        self.last = self.client.get(self._path(url), **kwargs)
        return self.last

    def post(self, url, **kwargs):
        self.last = self.client.post(self._path(url), **kwargs)
        return self.last

    def _path(self, url: str) -> str:
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "") if parts.scheme else url

    def follow(self, response=None, limit: int = 10):
        """Follow redirects within this service; stop at the first foreign location."""
        response = response or self.last
        for _ in range(limit):
            if response.status_code not in (301, 302, 303, 307, 308):
                break
            location = urljoin(self.base + "/", response.headers["Location"])
            if not location.startswith(self.base):
                break
            response = self.get(location)
        self.last = response
        return response

    @staticmethod
    def soup(response) -> BeautifulSoup:
        return BeautifulSoup(response.get_data(as_text=True), "html.parser")

    def form_fields(self, response, selector: str = "form[method=post]"):
        form = self.soup(response).select_one(selector)
        assert form is not None, f"no form {selector!r} on page"
        fields = {}
        for element in form.select("input[name]"):
            if element.get("type") in ("checkbox", "radio") and not element.has_attr("checked"):
                continue
            fields[element["name"]] = element.get("value", "")
        action = form.get("action") or response.request.full_path if hasattr(response, "request") else ""
        return form, fields, action

    def submit(self, url: str, data: dict, selector: str = "form[method=post]", follow: bool = False):
        """GET ``url``, fill the form found by ``selector`` with ``data`` and post it."""
        page = self.get(url)
        assert page.status_code == 200, f"GET {url} -> {page.status_code}"
        return self.submit_page(page, data, selector, follow, url)

    def submit_page(self, page, data: dict, selector="form[method=post]", follow=False, url=None):
        form = self.soup(page).select_one(selector)
        assert form is not None, f"no form {selector!r}"
        fields = {}
        for element in form.select("input[name]"):
            if element.get("type") in ("checkbox", "radio") and not element.has_attr("checked"):
                continue
            fields[element["name"]] = element.get("value", "")
        fields.update(data)
        action = form.get("action") or url or page.request.full_path
        response = self.post(action, data=fields)
        return self.follow(response) if follow else response

    def csrf_token(self, url: str = "/sign-in") -> str:
        page = self.get(url)
        return self.soup(page).select_one("input[name=csrf_token]")["value"]
