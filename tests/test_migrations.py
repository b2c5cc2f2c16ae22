"""The Alembic migrations and the SQLAlchemy models agree, and the history runs both ways.

Nothing here names a revision: the tests walk whatever history
``migrations/versions`` holds, so they keep working as parts add migrations.
"""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade


@pytest.fixture
def app_config(database_url):
    from support.plugin import base_config

    return base_config(database_url)


def _differences(db):
    """What ``flask db migrate`` would generate against the current database (empty when in step)."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                               "render_as_batch": True})
        return compare_metadata(context, db.metadata)


def _tables(db) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def _script(app) -> ScriptDirectory:
    return ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())


def _current_heads(db) -> set[str]:
    with db.engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def test_history_is_one_line_with_a_single_head(app):
    with app.app_context():
        script = _script(app)
        assert len(script.get_heads()) == 1, "migrations branch: re-chain the new revision"
        assert len(script.get_bases()) == 1


def test_autogenerate_finds_no_difference_between_migrations_and_models(app):
    from buergerkonto.idp.extensions import db

    with app.app_context():
        assert _current_heads(db) == set(_script(app).get_heads())
        assert _differences(db) == []


def test_upgrade_downgrade_base_upgrade_roundtrip(app):
    from buergerkonto.idp.extensions import db

    with app.app_context():
        model_tables = set(db.metadata.tables)
        assert model_tables <= _tables(db)

        downgrade(revision="base")
        assert _tables(db) == set(), "downgrade to base left tables behind"
        assert _current_heads(db) == set()

        upgrade()
        assert model_tables <= _tables(db)
        assert _differences(db) == []


def test_every_revision_steps_down_and_up_on_its_own(app):
    """Each migration's downgrade undoes exactly its upgrade, one step at a time."""
    from buergerkonto.idp.extensions import db

    with app.app_context():
        revisions = list(_script(app).walk_revisions())  # head first
        states = []
        for revision in revisions:
            assert _current_heads(db) == {revision.revision}
            states.append(_tables(db))
            downgrade(revision="-1")
        assert _tables(db) == set()
        for revision, tables in zip(reversed(revisions), reversed(states)):
            upgrade(revision="+1")
            assert _current_heads(db) == {revision.revision}
            assert _tables(db) == tables
        assert _differences(db) == []


def test_db_upgrade_command_builds_the_schema_from_nothing(tmp_path, monkeypatch):
    """``buergerkonto db upgrade`` on an empty SQLite instance folder (what the README runs)."""
    from click.testing import CliRunner

    from buergerkonto.idp.cli import main

    monkeypatch.setenv("BUERGERKONTO_INSTANCE_PATH", str(tmp_path))
    result = CliRunner().invoke(main, ["db", "upgrade"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'buergerkonto.sqlite'}")
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"account", "web_session", "event", "throttle_counter", "recovery_code", "mail_outbox"} <= tables
