"""Real database faults for tests: make the database itself refuse a row, late in a request.

A trigger refuses inserting an event with a given tag. Services record their
event after the rest of the change (and after queueing its mail or writing its
files), so the refusal comes at the flush or commit, after everything else was
done: the whole transaction rolls back, as with any database error there.
"""

import sqlalchemy as sa


def _execute(app, *statements: str) -> None:
    from buergerkonto.idp.extensions import db

    with app.app_context():
        try:
            for statement in statements:
                db.session.execute(sa.text(statement))
            db.session.commit()
        finally:
            db.session.remove()


def refuse_event(app, tag: str) -> None:
    """From now on the database refuses events tagged ``tag`` (``allow_events`` lifts it)."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        _execute(app, f"CREATE TRIGGER refuse_event BEFORE INSERT ON event WHEN NEW.tag = '{tag}' "
                      "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    else:
        _execute(app, "CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS "
                      "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
                 f"CREATE TRIGGER refuse_event BEFORE INSERT ON event FOR EACH ROW "
                 f"WHEN (NEW.tag = '{tag}') EXECUTE FUNCTION refuse_event()")


def allow_events(app) -> None:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        _execute(app, "DROP TRIGGER refuse_event")
    else:
        _execute(app, "DROP TRIGGER refuse_event ON event", "DROP FUNCTION refuse_event()")
