"""authorization codes: index the nonce check (client_id, nonce)

Revision ID: 0006_code_nonce_index
Revises: 0005_mailbox
Create Date: 2026-11-22 03:00:00

Every authorization request asks whether its nonce was used by the portal
before; with only the client_id index that read all of the portal's codes.
The composite index also serves the lookups by client_id alone.
"""
from alembic import op


revision = '0006_code_nonce_index'
down_revision = '0005_mailbox'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('oauth_authorization_code', schema=None) as batch_op:
        batch_op.create_index('ix_oauth_authorization_code_client_id_nonce', ['client_id', 'nonce'], unique=False)
        batch_op.drop_index(batch_op.f('ix_oauth_authorization_code_client_id'))


def downgrade():
    with op.batch_alter_table('oauth_authorization_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_authorization_code_client_id'), ['client_id'], unique=False)
        batch_op.drop_index('ix_oauth_authorization_code_client_id_nonce')
