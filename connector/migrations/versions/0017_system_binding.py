"""system_binding: the identity of the shop and of the ERP tenant the state belongs to.

Revision ID: 0017
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('system_binding',
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('identity', sa.JSON(), nullable=False),
    sa.Column('bound_at', sa.DateTime(), nullable=False),
    sa.Column('bound_by', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('side')
    )


def downgrade() -> None:
    op.drop_table('system_binding')
