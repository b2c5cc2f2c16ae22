"""German by default, English on request; the catalogue is complete, compiled and shipped.

The catalogue tests are the reminder for every later contributor: a new or
changed text without a German translation fails here (run ``scripts/i18n
update``, translate, ``scripts/i18n compile``).
"""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "idp" / "translations"
PO = TRANSLATIONS / "de" / "LC_MESSAGES" / "messages.po"
MO = TRANSLATIONS / "de" / "LC_MESSAGES" / "messages.mo"


def _read_po(path=PO):
    with open(path, "rb") as handle:
        return read_po(handle, locale="de")


def _messages(catalog) -> dict:
    """msgid -> msgstr of the real entries (the header has an empty msgid); plural forms as tuples
    (read_mo gives lists, read_po tuples)."""
    def plain(value):
        return tuple(value) if isinstance(value, (list, tuple)) else value

    return {plain(m.id): plain(m.string) for m in catalog if m.id}


def _soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def _h1(response) -> str:
    return _soup(response).h1.get_text(" ", strip=True)


def _lang(response) -> str:
    return _soup(response).html["lang"]


# --- the catalogue --------------------------------------------------------------------------


def test_catalogue_has_no_untranslated_or_fuzzy_entries():
    catalog = _read_po()
    untranslated = [m.id for m in catalog if m.id and not (all(m.string) if isinstance(m.string, tuple)
                                                           else m.string)]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not untranslated, f"translate these in {PO.relative_to(ROOT)}: {untranslated}"
    assert not fuzzy, f"check and un-fuzzy these in {PO.relative_to(ROOT)}: {fuzzy}"
    assert len(catalog) > 100


def test_catalogue_translations_keep_their_placeholders():
    """``%(url)s`` in a mail must survive translation, or the link is lost (or formatting fails)."""
    catalog = _read_po()
    problems = [(message.id, [str(e) for e in errors]) for message, errors in catalog.check()]
    assert not problems


def test_catalogue_compiled_mo_matches_po(tmp_path):
    """The committed .mo is what compiling the committed .po gives (compare contents, not bytes)."""
    fresh = tmp_path / "messages.mo"
    catalog = _read_po()
    with open(fresh, "wb") as handle:
        write_mo(handle, catalog)
    with open(fresh, "rb") as handle:
        expected = _messages(read_mo(handle))
    with open(MO, "rb") as handle:
        committed = _messages(read_mo(handle))
    assert committed == expected, "run scripts/i18n compile and commit the .mo"


def test_catalogue_holds_every_extracted_text(tmp_path):
    """Extraction over all parts finds no text the German catalogue lacks, and none it no longer needs."""
    pot = tmp_path / "messages.pot"
    result = subprocess.run(["bash", str(ROOT / "scripts" / "i18n"), "extract", str(pot)],
                            env={**os.environ, "PYTHON": sys.executable}, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with open(pot, "rb") as handle:
        extracted = set(_messages(read_po(handle)))
    known = set(_messages(_read_po()))
    assert extracted - known == set(), "new texts: run scripts/i18n update, translate, compile"
    assert known - extracted == set(), "texts no longer used: run scripts/i18n update"
    # The extraction reaches what the brief names: mail texts (N_), form labels (_l), templates.
    assert {"Please confirm your e-mail address", "Repeat password", "Skip to content"} <= extracted


def test_catalogue_directory_is_absolute_inside_the_package(app):
    from buergerkonto.idp import __file__ as idp_init

    directory = Path(app.config["BABEL_TRANSLATION_DIRECTORIES"])
    assert directory.is_absolute()
    assert directory == Path(idp_init).resolve().parent / "translations"
    assert (directory / "de" / "LC_MESSAGES" / "messages.mo").is_file()


def test_installed_wheel_ships_and_finds_the_catalogue(tmp_path):
    """Built as a wheel, the package carries the catalogue and Flask-Babel finds it there."""
    # Build from a copy: setuptools writes build/ into the source tree, which other tests may share.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "instance"))
    out = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(source)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(out.glob("buergerkonto-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert "buergerkonto/idp/translations/de/LC_MESSAGES/messages.mo" in names
        archive.extractall(tmp_path / "site")
    probe = (
        "import buergerkonto.idp, sys\n"
        "from pathlib import Path\n"
        "assert Path(buergerkonto.idp.__file__).is_relative_to(Path(sys.argv[1])), buergerkonto.idp.__file__\n"
        "from buergerkonto.idp import create_app\n"
        "from flask_babel import force_locale, gettext\n"
        "app = create_app({'SECRET_KEY': 'x' * 40, 'SQLALCHEMY_DATABASE_URI': 'sqlite://'})\n"
        "with app.test_request_context('/'):\n"
        "    with force_locale('de'):\n"
        "        print(gettext('Sign in'), gettext('Skip to content'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"),
           "BUERGERKONTO_INSTANCE_PATH": str(tmp_path / "instance")}
    result = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "site")], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "Anmelden Zum Inhalt springen"


# --- choosing the language ------------------------------------------------------------------


def test_pages_default_to_german(client):
    response = client.get("/sign-in")
    assert _lang(response) == "de"
    assert _h1(response) == "Beim Bürgerkonto anmelden"
    soup = _soup(response)
    assert soup.find("label", attrs={"for": "email"}).get_text(strip=True) == "E-Mail-Adresse"
    assert soup.find("label", attrs={"for": "password"}).get_text(strip=True) == "Passwort"
    assert soup.title.get_text().startswith("Anmelden – ")


def test_unsupported_browser_language_falls_back_to_german(client):
    response = client.get("/register", headers={"Accept-Language": "fr-FR,fr;q=0.9,pl;q=0.5"})
    assert _lang(response) == "de"
    assert _h1(response) == "Bürgerkonto anlegen"


def test_accept_language_en_gives_english(client):
    response = client.get("/sign-in", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert _lang(response) == "en"
    assert _h1(response) == "Sign in to your Bürgerkonto"


def test_accept_language_prefers_german_when_the_browser_does(client):
    response = client.get("/sign-in", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.8"})
    assert _lang(response) == "de"


def test_language_switch_persists_in_the_session(client):
    english = client.get("/sign-in?lang=en")
    assert _lang(english) == "en"
    # Later pages without the parameter stay English, even against the browser's preference.
    later = client.get("/forgot-password", headers={"Accept-Language": "de"})
    assert _lang(later) == "en"
    assert _h1(later) == "Forgot your password?"
    back = client.get("/forgot-password?lang=de")
    assert _h1(back) == "Passwort vergessen?"
    assert _lang(client.get("/register")) == "de"


def test_language_choice_survives_signing_out(signed_in):
    """Signing out ends the sign-in, not the citizen's language: the next page stays English."""
    signed_in.get("/account?lang=en")
    response = signed_in.submit("/sign-out", {})
    assert response.status_code == 302
    assert signed_in.get("/account").status_code == 302  # really signed out
    page = signed_in.get("/sign-in")
    assert _lang(page) == "en" and _h1(page) == "Sign in to your Bürgerkonto"


def test_unknown_language_parameter_is_ignored(client):
    response = client.get("/sign-in?lang=xx")
    assert response.status_code == 200
    assert _lang(response) == "de"
    response = client.get("/sign-in?lang=" + "e" * 5000)
    assert response.status_code == 200
    assert _lang(response) == "de"


def test_ui_locales_selects_the_first_supported_language(client):
    response = client.get("/sign-in?ui_locales=fr-CA%20en-US%20de")
    assert _lang(response) == "en"
    # It holds for the rest of the sign-in the portal started.
    assert _lang(client.get("/register")) == "en"


def test_ui_locales_without_a_supported_language_changes_nothing(client):
    response = client.get("/sign-in?ui_locales=fr%20it", headers={"Accept-Language": "en"})
    assert _lang(response) == "en"
    assert _lang(client.get("/sign-in")) == "de"


def test_language_switcher_links_keep_the_page_parameters(client):
    response = client.get("/sign-in?next=/account/profile")
    nav = _soup(response).find("nav", attrs={"aria-label": "Sprache"})
    current = nav.find(attrs={"aria-current": "true"})
    assert current.get_text(strip=True) == "Deutsch" and current["lang"] == "de"
    link = nav.find("a", attrs={"hreflang": "en"})
    assert link["lang"] == "en" and link.get_text(strip=True) == "English"
    assert link["href"].startswith("/sign-in?")
    switched = client.get(link["href"])
    assert _lang(switched) == "en"
    assert _soup(switched).find("input", attrs={"name": "next"})["value"] == "/account/profile"


def test_form_errors_and_password_rules_speak_the_page_language(browser):
    response = browser.submit("/register", {"email": "", "password": "kurz", "password_repeat": "kurz"})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Bitte geben Sie Ihre E-Mail-Adresse ein." in text
    response = browser.submit("/register", {"email": "neu@example.org", "password": "kurz",
                                            "password_repeat": "kurz"})
    assert "Verwenden Sie mindestens 8 Zeichen." in response.get_data(as_text=True)
    assert _soup(response).title.get_text().startswith("Fehler: ")
    browser.get("/register?lang=en")
    response = browser.submit("/register", {"email": "", "password": "x", "password_repeat": "x"})
    text = response.get_data(as_text=True)
    assert "Please enter your e-mail address." in text
    assert _soup(response).title.get_text().startswith("Error: ")


def test_error_pages_speak_the_chosen_language(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert _lang(response) == "de" and _h1(response) == "Seite nicht gefunden"
    response = client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert _lang(response) == "en" and _h1(response) == "Page not found"


# --- mail in the account's language ---------------------------------------------------------


def _register(browser, email, url="/register"):
    response = browser.submit(url, {"email": email, "name": "", "password": "Lange-Passphrase-2026",
                                    "password_repeat": "Lange-Passphrase-2026"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def test_registration_mail_is_german_by_default(browser, smtp):
    _register(browser, "erika@example.org")
    message = smtp.wait_for("erika@example.org")
    assert message["Subject"] == "Bitte bestätigen Sie Ihre E-Mail-Adresse"
    body = smtp.body(message)
    assert body.startswith("Willkommen beim Bürgerkonto.")
    assert "/confirm-email/" in smtp.link("erika@example.org", "/confirm-email/")


def test_registration_in_english_sends_english_mail(browser, smtp):
    browser.get("/register?lang=en")
    _register(browser, "john@example.org")
    message = smtp.wait_for("john@example.org")
    assert message["Subject"] == "Please confirm your e-mail address"
    assert smtp.body(message).startswith("Welcome to the Bürgerkonto.")


def test_mail_follows_the_account_language_not_the_browser(browser, smtp, make_account):
    """An account registered in English gets English mail even when the page is German."""
    account = make_account(locale="en")
    browser.submit("/forgot-password", {"email": account["email"]})
    message = smtp.wait_for(account["email"])
    assert message["Subject"] == "Reset your Bürgerkonto password"
    german = make_account(locale="de")
    browser.get("/forgot-password?lang=en")
    browser.submit("/forgot-password", {"email": german["email"]})
    assert smtp.wait_for(german["email"])["Subject"] == "Passwort Ihres Bürgerkontos zurücksetzen"


@pytest.mark.parametrize("page_lang, subject", [
    ("de", "Registrierungsversuch mit Ihrer E-Mail-Adresse"),
    ("en", "Registration attempt with your address"),
])
def test_duplicate_registration_notice_without_account_language_follows_the_page(
        browser, smtp, make_account, page_lang, subject):
    account = make_account()  # operator-created: no language recorded
    browser.get(f"/register?lang={page_lang}")
    _register(browser, account["email"])
    assert smtp.wait_for(account["email"])["Subject"] == subject


def test_wtforms_own_messages_follow_the_language_and_are_read_once_per_language(app):
    """Built-in wtforms messages (a date field's) are German by default; the catalogue is parsed once."""
    from wtforms import DateField

    from buergerkonto.idp.forms import Form, _wtforms_catalogue

    class DateForm(Form):
        day = DateField()

    _wtforms_catalogue.cache_clear()
    answers = {}
    for _ in range(3):
        for lang in ("de", "en"):
            with app.test_request_context(f"/?lang={lang}", method="POST", data={"day": "not a date"}):
                form = DateForm(meta={"csrf": False})
                form.validate()
                answers[lang] = form.errors["day"][0]
    assert answers == {"de": "Kein gültiges Datum.", "en": "Not a valid date value."}
    assert _wtforms_catalogue.cache_info().misses == 2


def test_every_form_derives_from_the_shared_base():
    """A form on ``FlaskForm`` directly would parse wtforms' catalogue on every request again."""
    import importlib

    from flask_wtf import FlaskForm

    from buergerkonto.idp.forms import Form

    for module in ("idp.forms", "trust_levels.forms", "federation.forms"):
        importlib.import_module(f"buergerkonto.{module}")
    stack, found = list(FlaskForm.__subclasses__()), []
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("buergerkonto."):
            found.append(cls)
    assert len(found) > 15 and all(issubclass(cls, Form) for cls in found)
