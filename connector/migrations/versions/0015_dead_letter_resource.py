"""Dead letters name their resource ("order 4821", "SKU A,B"), so an order has one open failure at a time.

Revision ID: 0015
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dead_letter') as batch:
        batch.add_column(sa.Column('resource', sa.String(length=300), nullable=True))
        batch.create_index('ix_dead_letter_resource_status', ['resource', 'status'])


def downgrade() -> None:
    with op.batch_alter_table('dead_letter') as batch:
        batch.drop_index('ix_dead_letter_resource_status')
        batch.drop_column('resource')
