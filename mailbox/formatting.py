"""Numbers on the postbox pages, written as the page's language writes them (Flask-Babel)."""

from flask_babel import format_decimal, ngettext

# Decimal prefixes (1 kB = 1000 bytes), as Jinja's filesizeformat counted before.
UNITS = ("kB", "MB", "GB")


def file_size(size: int) -> str:
    """``size`` bytes for a page: "24,8 kB" on a German page, "24.8 kB" on an English one.

    Jinja's filesizeformat formats with Python's "%.1f", a full stop whatever the language.
    """
    if size < 1000:
        return ngettext("%(num)d byte", "%(num)d bytes", size)
    value, unit = size / 1000, UNITS[0]
    for larger in UNITS[1:]:
        # Compared as shown: 999,950 bytes would read "1000.0 kB" rather than "1.0 MB".
        if round(value, 1) < 1000:
            break
        value, unit = value / 1000, larger
    return f"{format_decimal(value, format='#,##0.0')} {unit}"
