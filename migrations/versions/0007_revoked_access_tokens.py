"""JWT access tokens: the list of revoked ones (oauth_revoked_access_token)

Revision ID: 0007_revoked_access_tokens
Revises: 0006_code_nonce_index
Create Date: 2026-11-23 09:00:00

Portals' client-credentials tokens may be RFC 9068 JWTs, which are not stored;
a revoked one is remembered by its ``jti`` until it would have expired. The
token format itself is a key in the client's metadata (absent: opaque, as
every portal registered before had), so no client row changes.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_revoked_access_tokens'
down_revision = '0006_code_nonce_index'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('oauth_revoked_access_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=48), nullable=False),
    sa.Column('expires_at', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_revoked_access_token')),
    sa.UniqueConstraint('jti', name=op.f('uq_oauth_revoked_access_token_jti'))
    )
    with op.batch_alter_table('oauth_revoked_access_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_revoked_access_token_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_oauth_revoked_access_token_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('oauth_revoked_access_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_revoked_access_token_expires_at'))
        batch_op.drop_index(batch_op.f('ix_oauth_revoked_access_token_client_id'))

    op.drop_table('oauth_revoked_access_token')
