"""Passwords: argon2id at OWASP parameters, re-hashing, the ASVS 6.2 policy, Unicode, paste."""

import unicodedata

import pytest

from argon2 import extract_parameters
from argon2 import Type

from .conftest import PASSWORD, register, sign_in


def test_hash_is_argon2id_at_owasp_parameters_or_stronger(app, make_account, database):
    # The suite runs with cheap parameters; this test restores the shipped defaults.
    from buergerkonto.idp.config import DEFAULTS

    for key in ("ARGON2_TIME_COST", "ARGON2_MEMORY_KIB", "ARGON2_PARALLELISM"):
        app.config[key] = DEFAULTS[key]
    account = make_account()
    stored = database.account(account["email"])["password_hash"]
    assert PASSWORD not in stored
    params = extract_parameters(stored)
    assert params.type is Type.ID
    assert params.memory_cost >= 19 * 1024
    assert params.time_cost >= 2
    assert params.parallelism >= 1


def test_sign_in_rehashes_when_parameters_changed(app, browser, make_account, database):
    app.config["ARGON2_TIME_COST"] = 1
    app.config["ARGON2_MEMORY_KIB"] = 8 * 1024
    account = make_account()
    old = database.account(account["email"])["password_hash"]
    assert extract_parameters(old).time_cost == 1
    app.config["ARGON2_TIME_COST"] = 3
    app.config["ARGON2_MEMORY_KIB"] = 19 * 1024

    assert sign_in(browser, account["email"], account["password"]).status_code == 302
    new = database.account(account["email"])["password_hash"]
    assert new != old
    assert extract_parameters(new).time_cost == 3
    assert extract_parameters(new).memory_cost == 19 * 1024
    assert "account:password:rehash" in database.tags(account["id"])
    # The new hash still checks out.
    assert sign_in(browser, account["email"], account["password"]).status_code == 302


def test_unchanged_parameters_do_not_rehash(browser, make_account, database):
    account = make_account()
    old = database.account(account["email"])["password_hash"]
    sign_in(browser, account["email"], account["password"])
    assert database.account(account["email"])["password_hash"] == old
    assert "account:password:rehash" not in database.tags(account["id"])


POLICY_CASES = [
    ("Abc-123", False),  # 7 characters
    ("abcdefgh", True),  # 8 characters, no composition rules
    ("wzxqplmk", True),
    ("der hund schläft im garten", True),  # a passphrase with spaces, lower case only
    ("x7" * 64, True),  # 128 characters
    ("x7" * 64 + "y", False),  # 129
    ("password", False),  # common
    ("PassWord123", False),  # common, any case
    ("12345678", False),
    ("anna.schmidt2024", False),  # built on the e-mail address
    ("ANNA.SCHMIDT", False),
    ("Moormerland2024", False),  # a member municipality
    ("westoverledingen", False),
    ("Buergerkonto1", False),  # the service's own name
    ("Leerer Kühlschrank am Montagmorgen", True),  # contains a place name but is not built on it
]


def test_password_policy(app):
    from buergerkonto.idp.passwords import policy_problems

    with app.test_request_context():
        for password, accepted in POLICY_CASES:
            problems = policy_problems(password, "anna.schmidt@example.org")
            assert (problems == []) is accepted, (password, [str(p) for p in problems])
            for problem in problems:
                assert str(problem)  # each refusal has a message to show


def test_length_counts_characters_not_bytes(app):
    from buergerkonto.idp.passwords import policy_problems

    with app.test_request_context():
        assert policy_problems("äöüßäöüß") == []  # 8 characters, 16 bytes in UTF-8
        assert policy_problems("ü" * 128) == []


def test_password_typed_composed_or_decomposed_signs_in(browser, smtp, database):
    composed = "Straße-Ångström-Café-2026"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    register(browser, "unicode@example.org", password=composed)
    assert browser.get(smtp.link("unicode@example.org", "/confirm-email/")).status_code == 200
    assert sign_in(browser, "unicode@example.org", decomposed).status_code == 302


def test_compatibility_forms_are_the_same_password(make_account, browser):
    """NFKC: a full-width digit typed on a CJK keyboard is the digit."""
    account = make_account(password="Wohnung-Nummer-42")
    assert sign_in(browser, account["email"], "Wohnung-Nummer-４２").status_code == 302


def test_a_different_password_with_the_same_letters_is_refused(make_account, browser):
    account = make_account(password="Wohnung-Nummer-42")
    assert sign_in(browser, account["email"], "wohnung-nummer-42").status_code == 401


PAGES_ANONYMOUS = ["/sign-in", "/register", "/forgot-password"]
PAGES_SIGNED_IN = ["/account/password", "/account/email", "/account/delete", "/account/totp",
                   "/account/profile", "/account/totp/disable"]


def _password_inputs(browser, pages):
    for url in pages:
        page = browser.get(url)
        assert page.status_code == 200, url
        html = page.get_data(as_text=True).lower()
        # Paste and password managers are allowed (ASVS 6.2.7, WCAG 3.3.8).
        assert "onpaste" not in html and "oncopy" not in html and 'autocomplete="off"' not in html, url
        for field in browser.soup(page).select("input[type=password]"):
            yield url, field


def test_password_fields_allow_paste_and_carry_autocomplete_tokens(browser, make_account):
    seen = list(_password_inputs(browser, PAGES_ANONYMOUS))
    account = make_account()
    sign_in(browser, account["email"], account["password"])
    seen += list(_password_inputs(browser, PAGES_SIGNED_IN))
    assert seen
    for url, field in seen:
        name = field["name"]
        expected = "current-password" if url == "/sign-in" or name == "current_password" else "new-password"
        assert field.get("autocomplete") == expected, (url, name, field)
        assert not field.has_attr("maxlength") or int(field["maxlength"]) > 128  # never cut silently


def test_email_fields_carry_autocomplete_tokens(browser):
    sign = browser.soup(browser.get("/sign-in")).select_one("input[name=email]")
    assert sign["autocomplete"] == "username" and sign["type"] == "email"
    reg = browser.soup(browser.get("/register")).select_one("input[name=email]")
    assert reg["autocomplete"] == "email"
    # Labels are tied to the fields.
    soup = browser.soup(browser.get("/register"))
    for field in soup.select("form input:not([type=hidden])"):
        assert soup.select_one(f"label[for={field['id']}]"), field


_MEMORY_PROBE = r"""
import resource
import threading
from buergerkonto.idp import create_app, passwords

app = create_app({"TESTING": True, "SECRET_KEY": "x" * 40, "SQLALCHEMY_DATABASE_URI": "sqlite://",
                  "ARGON2_CONCURRENCY": CONCURRENCY})
def rss_mib():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
def page_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
with app.app_context():
    stored = passwords.hash_password("correct horse battery")
    before = rss_mib()
    peak = [0.0]
    def sign_ins():
        with app.app_context():
            for _ in range(3):
                passwords.verify_password(stored, "correct horse battery")
                peak[0] = max(peak[0], rss_mib())
    threads = [threading.Thread(target=sign_ins) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    faults = page_faults()
    for _ in range(5):
        passwords.verify_password(stored, "correct horse battery")
    print(round(peak[0] - before, 1), round(rss_mib() - before, 1), (page_faults() - faults) / 5)
"""


def test_password_hashes_reuse_their_memory_on_their_own_threads(tmp_path):
    """Eight threads sign in at the shipped 19 MiB cost: memory grows by one hash's buffer, not one per
    thread (the gunicorn worker of the benchmark once kept 19 MiB per request thread), and later hashes reuse
    that buffer instead of faulting in 4,864 fresh pages each (a third of a hash's CPU went to the kernel)."""
    import subprocess
    import sys

    from buergerkonto.idp.config import DEFAULTS

    memory_mib = DEFAULTS["ARGON2_MEMORY_KIB"] / 1024
    pages = DEFAULTS["ARGON2_MEMORY_KIB"] // 4
    out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE.replace("CONCURRENCY", "1")],
                         capture_output=True, text=True, check=True, cwd=tmp_path).stdout.split()
    peak_growth, kept, faults_per_hash = float(out[0]), float(out[1]), float(out[2])
    assert peak_growth < 1.5 * memory_mib, out  # one buffer for eight threads
    assert kept < 1.5 * memory_mib, out         # and no more afterwards
    assert faults_per_hash < pages / 20, out     # reused, not mapped afresh


def test_a_failing_hash_raises_in_the_caller(app):
    """Hashes run on their own threads; what goes wrong there is raised where the hash was asked for."""
    from buergerkonto.idp import passwords

    with app.app_context():
        assert passwords.verify_password("$argon2id$v=19$m=19456,t=2,p=1$broken", "whatever") == (False, False)
        with pytest.raises(ZeroDivisionError):
            passwords._run(divmod, 1, 0)
