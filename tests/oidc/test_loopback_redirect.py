"""Native apps' loopback redirect URIs: any port, everything else exact (RFC 8252 §7.3, RFC 9700 §4.1.3).

A native app (public client) listens on the port the system gives it at the moment, so for a
registered ``http`` URI on a loopback IP literal the port is not compared. The code stays bound
to the exact URI the app used at /authorize.
"""

import pytest

IPV4, IPV6 = "http://127.0.0.1/callback", "http://[::1]/callback"


def _native_app(make_rp, registered):
    return make_rp(public=True, redirect_uris=(registered,))


def _refused_without_redirect(response):
    return response.status_code == 400 and "Location" not in response.headers


@pytest.mark.parametrize("registered, used", [(IPV4, "http://127.0.0.1:53412/callback"),
                                              (IPV6, "http://[::1]:53412/callback"),
                                              ("http://127.0.0.1:8080/callback", "http://127.0.0.1:61000/callback")])
def test_native_app_loopback_redirect_uri_matches_any_port(make_rp, citizen, registered, used):
    rp = _native_app(make_rp, registered)
    rp.redirect_uri = used
    code = rp.code()
    response = rp.redeem(code)
    assert response.status_code == 200, response.get_json()


def test_registered_loopback_redirect_uri_itself_still_matches(make_rp, citizen):
    rp = _native_app(make_rp, IPV4)
    assert rp.redeem(rp.code()).status_code == 200


def test_code_is_bound_to_the_exact_loopback_uri_used_at_authorize(make_rp, citizen):
    rp = _native_app(make_rp, IPV4)
    rp.redirect_uri = "http://127.0.0.1:53412/callback"
    code = rp.code()
    for other in ("http://127.0.0.1:53413/callback", IPV4):
        response = rp.redeem(code, redirect_uri=other)
        assert response.get_json()["error"] == "invalid_grant", other


@pytest.mark.parametrize("used", ["http://127.0.0.1:53412/other", "http://127.0.0.1:53412/callback?x=1",
                                  "http://127.0.0.1:53412/Callback", "https://127.0.0.1:53412/callback",
                                  "HTTP://127.0.0.1:53412/callback", "http://127.0.0.2:53412/callback",
                                  "http://[::1]:53412/callback", "http://localhost:53412/callback",
                                  "http://127.0.0.1:53412@evil.example/callback", "http://127.0.0.1:0/callback",
                                  "http://127.0.0.1:99999/callback", "http://127.0.0.1:/callback"])
def test_only_the_port_of_a_loopback_uri_may_differ(make_rp, citizen, used):
    rp = _native_app(make_rp, IPV4)
    rp.redirect_uri = used
    assert _refused_without_redirect(rp.authorize())


def test_registered_localhost_uri_is_compared_exactly(make_rp, citizen):
    # A name, not an IP literal: it may resolve elsewhere (RFC 8252 §8.3), so no port freedom.
    rp = _native_app(make_rp, "http://localhost/callback")
    rp.redirect_uri = "http://localhost:53412/callback"
    assert _refused_without_redirect(rp.authorize())


def test_confidential_portal_loopback_uri_is_compared_exactly(make_rp, citizen):
    rp = make_rp(redirect_uris=("http://127.0.0.1:5001/callback",))
    rp.redirect_uri = "http://127.0.0.1:5002/callback"
    assert _refused_without_redirect(rp.authorize())
