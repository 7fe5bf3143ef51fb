"""Stock holds: units sold in the shop and not yet reserved by the ERP, per order and SKU.

Revision ID: 0018
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stock_hold',
    sa.Column('woo_order_id', sa.BigInteger(), nullable=False),
    sa.Column('sku', sa.String(length=128), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('woo_order_id', 'sku')
    )
    with op.batch_alter_table('stock_hold', schema=None) as batch_op:
        batch_op.create_index('ix_stock_hold_sku', ['sku'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('stock_hold', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_hold_sku')
    op.drop_table('stock_hold')
