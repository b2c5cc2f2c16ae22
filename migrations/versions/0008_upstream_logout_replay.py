"""federation: upstream logout tokens accepted once (federation_logout_token), upstream auth time

Revision ID: 0008_upstream_logout_replay
Revises: 0007_revoked_access_tokens
Create Date: 2026-12-01 05:30:00

An upstream back-channel logout token is accepted once: its (issuer, jti) is
remembered until the token would be refused for its age anyway. A logout token
ends only the upstream sessions authenticated up to its iat, so each upstream
session keeps the upstream's auth time; rows from before stay empty (NULL) and
are ended as before.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_upstream_logout_replay'
down_revision = '0007_revoked_access_tokens'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('federation_logout_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=255), nullable=False),
    sa.Column('jti', sa.String(length=255), nullable=False),
    sa.Column('expires_at', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_federation_logout_token')),
    sa.UniqueConstraint('issuer', 'jti', name='uq_federation_logout_token_issuer_jti')
    )
    with op.batch_alter_table('federation_logout_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_federation_logout_token_expires_at'), ['expires_at'], unique=False)

    with op.batch_alter_table('federation_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('upstream_auth_time', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('federation_session', schema=None) as batch_op:
        batch_op.drop_column('upstream_auth_time')

    with op.batch_alter_table('federation_logout_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_federation_logout_token_expires_at'))

    op.drop_table('federation_logout_token')
