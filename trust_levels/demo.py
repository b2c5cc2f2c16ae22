"""Demo data for ``buergerkonto demo``: the district of Leer, two of its towns, a Bürgerbüro and an employee each.

The employees get a known demo password and an authenticator secret chosen
here (random per demo instance, kept in the instance's ``demo.json``), so an
evaluator can sign in at ``/staff`` at once: with the secret in an
authenticator app, or with ``buergerkonto demo codes``. Production staff are
never made this way: ``staff create`` hands out a one-time set-up link and
the employee enrols TOTP at the first sign-in.

AGS (Amtlicher Gemeindeschlüssel): Land 03 (Niedersachsen), Landkreis 457
(Leer); the district itself is 03457000, the town of Leer 03457013, Moormerland
03457014.
"""

from ..idp import crypto, events, totp
from ..idp.extensions import db
from ..idp.timeutil import utcnow
from . import service
from .models import Municipality, Office, StaffMember

STAFF_PASSWORD = "Demo-Schalter-2026"
OFFICES = [
    {"ags": "03457000", "municipality": "Landkreis Leer", "name": "Bürgerservice im Kreishaus Leer",
     "street": "Bergmannstraße 37", "postal_code": "26789", "locality": "Leer (Ostfriesland)",
     "staff": "greta.bruns@landkreis-leer.example.org"},
    {"ags": "03457013", "municipality": "Stadt Leer (Ostfriesland)", "name": "Bürgerbüro Leer",
     "street": "Rathausstraße 1", "postal_code": "26789", "locality": "Leer (Ostfriesland)",
     "staff": "anna.janssen@stadt-leer.example.org"},
    {"ags": "03457014", "municipality": "Gemeinde Moormerland", "name": "Bürgerbüro Moormerland",
     "street": "Theodor-Heuss-Straße 12", "postal_code": "26802", "locality": "Moormerland",
     "staff": "jan.wessels@moormerland.example.org"},
]


def seed(app, state: dict, ctx: dict) -> None:
    """Offices and one office-admin per office; what exists already is kept (the caller commits)."""
    staff_state = {member["email"]: member for member in state.get("staff", [])}
    for spec in OFFICES:
        municipality = Municipality.query.filter_by(ags=spec["ags"]).first()
        office = (Office.query.filter_by(municipality_id=municipality.id, name=spec["name"]).first()
                  if municipality else None)
        if office is None:
            office = service.create_office(spec["name"], spec["ags"], spec["municipality"], spec["street"],
                                           spec["postal_code"], spec["locality"])
        member = staff_state.get(spec["staff"])
        staff = StaffMember.query.filter_by(email=spec["staff"]).first()
        if staff is None or member is None or staff.totp_secret is None:
            member = _demo_staff(staff, spec["staff"], office)
            staff_state[member["email"]] = member
        member["office"] = office.name
    state["staff"] = [staff_state[spec["staff"]] for spec in OFFICES]


def _demo_staff(staff: StaffMember | None, email: str, office: Office) -> dict:
    """Create (or reset) a demo employee with the demo password and a fresh authenticator secret."""
    if staff is None:
        staff, link = service.create_staff(email, office.id, "office-admin")
    else:
        link = service.reset_staff(staff)
    service.complete_setup(link.rsplit("/", 1)[1], STAFF_PASSWORD)
    secret = totp.new_secret()
    staff.totp_secret = crypto.encrypt(secret.encode(), service._TOTP_PURPOSE, str(staff.id).encode())
    staff.totp_enabled_at = utcnow()
    events.record("trust:staff:totp_enable", None, staff_id=staff.id, demo=True)
    db.session.flush()
    return {"email": staff.email, "password": STAFF_PASSWORD, "totp_secret": secret}
