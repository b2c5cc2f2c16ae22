"""outgoing mail: a claim is kept apart from the delivery (mail_outbox.claimed_at)

Revision ID: 0011_mail_claims
Revises: 0010_growing_ids_64_bit
Create Date: 2026-12-01 21:00:00

A deliverer used to mark a message sent when it claimed it, before it spoke to
the mail server; a process that died in between (killed, restarted) left the
message marked sent and it never went out. Now a claim has a time of its own,
``sent_at`` is set only after the server took the message, and a claim older
than a send can take is taken back by the next delivery run.

Rows claimed and never confirmed under the old scheme (``sent_at`` set, body not
yet cleared, which only a successful send does) become claims of that time, so
the next run sends them.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_mail_claims'
down_revision = '0010_growing_ids_64_bit'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(), nullable=True))
    op.execute("UPDATE mail_outbox SET claimed_at = sent_at, sent_at = NULL "
               "WHERE sent_at IS NOT NULL AND body <> ''")


def downgrade():
    op.execute("UPDATE mail_outbox SET sent_at = claimed_at WHERE sent_at IS NULL AND claimed_at IS NOT NULL")
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.drop_column('claimed_at')
