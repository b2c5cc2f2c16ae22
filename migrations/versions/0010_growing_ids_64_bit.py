"""64-bit row ids for the tables that grow with traffic (PostgreSQL)

Revision ID: 0010_growing_ids_64_bit
Revises: 0009_postbox_message_language
Create Date: 2026-12-01 18:00:00

Tokens, codes, browser sessions, events, mails, logout deliveries, postbox messages
and their attachments get a row id per request or sign-in. PostgreSQL's INTEGER
(and the sequence behind a SERIAL column, which has a type of its own) ends at
2,147,483,647: portals' client-credential grants alone, at the 1,000 a second the
benchmark asks for, would reach that within a month, after which every grant fails.
The columns and their sequences become BIGINT, as are the columns that point at
them (``postbox_attachment.message_id``).

On SQLite nothing changes: a column of type INTEGER PRIMARY KEY is its 64-bit rowid.

PostgreSQL rewrites each table to change a column's type, holding it locked
meanwhile: on a database with many rows, run this upgrade in a maintenance window.
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_growing_ids_64_bit'
down_revision = '0009_postbox_message_language'
branch_labels = None
depends_on = None

# Every table whose rows come with traffic, and the columns that point at one of them
GROWING = (
    'oauth_authorization_code', 'oauth_token', 'oidc_portal_sign_in', 'oidc_logout_delivery',
    'oidc_client_assertion_jti', 'oauth_revoked_access_token', 'event', 'web_session', 'mail_outbox',
    'federation_session', 'federation_logout_token', 'postbox_message', 'postbox_attachment',
)
POINTERS = (('postbox_attachment', 'message_id'),)


def upgrade():
    _change(sa.Integer(), sa.BigInteger(), 'bigint')


def downgrade():
    _change(sa.BigInteger(), sa.Integer(), 'integer')


def _change(old, new, sequence_type):
    if op.get_context().dialect.name != 'postgresql':
        return
    bind = op.get_bind()
    for table in GROWING:
        op.alter_column(table, 'id', existing_type=old, type_=new, existing_nullable=False)
        # A SERIAL column's sequence has a type of its own, and stops at its maximum.
        sequence = bind.execute(sa.text("SELECT pg_get_serial_sequence(:table, 'id')"), {'table': table}).scalar()
        op.execute(f'ALTER SEQUENCE {sequence} AS {sequence_type}')
    for table, column in POINTERS:
        op.alter_column(table, column, existing_type=old, type_=new, existing_nullable=False)
