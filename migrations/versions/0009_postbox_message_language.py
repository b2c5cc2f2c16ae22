"""mailbox: the language of a message's subject and body (postbox_message.language)

Revision ID: 0009_postbox_message_language
Revises: 0008_upstream_logout_replay
Create Date: 2026-12-02 09:00:00

Portals may say which language a notice is written in (a BCP 47 tag), so the
pages can mark it for screen readers (WCAG 3.1.2: a German notice on an English
page). Existing rows get "de", the default for a send without the field:
until now every message was taken to be German.
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_postbox_message_language'
down_revision = '0008_upstream_logout_replay'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('postbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=35), server_default='de', nullable=False))


def downgrade():
    with op.batch_alter_table('postbox_message', schema=None) as batch_op:
        batch_op.drop_column('language')
