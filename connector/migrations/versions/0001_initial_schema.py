"""Initial schema: entity mapping, cursors, inventory levels, order state, webhook outbox, dead letters, leases.

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dead_letter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=64), nullable=False),
    sa.Column('attempt_key', sa.String(length=64), nullable=False),
    sa.Column('task_name', sa.String(length=200), nullable=False),
    sa.Column('args', sa.JSON(), nullable=False),
    sa.Column('kwargs', sa.JSON(), nullable=False),
    sa.Column('queue', sa.String(length=64), nullable=True),
    sa.Column('correlation_id', sa.String(length=64), nullable=True),
    sa.Column('retries', sa.Integer(), nullable=False),
    sa.Column('exc_type', sa.String(length=200), nullable=False),
    sa.Column('exc_message', sa.Text(), nullable=False),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('replay_task_id', sa.String(length=64), nullable=True),
    sa.Column('resolved_by', sa.String(length=200), nullable=True),
    sa.Column('announced_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('task_id', 'attempt_key', name='uq_dead_letter_task_attempt')
    )
    op.create_table('entity_mapping',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_type', sa.String(length=32), nullable=False),
    sa.Column('erp_id', sa.String(length=128), nullable=False),
    sa.Column('woo_id', sa.BigInteger(), nullable=True),
    sa.Column('woo_parent_id', sa.BigInteger(), nullable=True),
    sa.Column('sku', sa.String(length=128), nullable=True),
    sa.Column('sync_hash', sa.String(length=64), nullable=True),
    sa.Column('erp_modified_at', sa.String(length=40), nullable=True),
    sa.Column('last_synced_at', sa.DateTime(), nullable=True),
    sa.Column('quarantine_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entity_type', 'erp_id', name='uq_entity_mapping_type_erp')
    )
    with op.batch_alter_table('entity_mapping', schema=None) as batch_op:
        batch_op.create_index('ix_entity_mapping_type_woo', ['entity_type', 'woo_id'], unique=False)

    op.create_table('inventory_level',
    sa.Column('sku', sa.String(length=128), nullable=False),
    sa.Column('warehouse', sa.String(length=64), nullable=False),
    sa.Column('on_hand', sa.Integer(), nullable=False),
    sa.Column('reserved', sa.Integer(), nullable=False),
    sa.Column('safety_stock', sa.Integer(), nullable=False),
    sa.Column('modified_at', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('sku', 'warehouse')
    )
    op.create_table('lease',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('owner', sa.String(length=100), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('order_sync',
    sa.Column('woo_order_id', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('woo_status', sa.String(length=32), nullable=True),
    sa.Column('erp_order_id', sa.String(length=64), nullable=True),
    sa.Column('erp_order_number', sa.String(length=64), nullable=True),
    sa.Column('erp_customer_id', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('correlation_id', sa.String(length=64), nullable=True),
    sa.Column('woo_modified_gmt', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('woo_order_id')
    )
    op.create_table('sync_cursor',
    sa.Column('stream', sa.String(length=32), nullable=False),
    sa.Column('watermark', sa.String(length=40), nullable=True),
    sa.Column('run_since', sa.String(length=40), nullable=True),
    sa.Column('page_cursor', sa.Text(), nullable=True),
    sa.Column('run_max_seen', sa.String(length=40), nullable=True),
    sa.Column('last_success_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('stream')
    )
    op.create_table('webhook_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('change_key', sa.String(length=64), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.BigInteger(), nullable=False),
    sa.Column('delivery_header', sa.String(length=64), nullable=True),
    sa.Column('webhook_id', sa.String(length=32), nullable=True),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('modified_gmt', sa.String(length=32), nullable=True),
    sa.Column('correlation_id', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('task_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('change_key', name='uq_webhook_delivery_change_key')
    )
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_delivery_unpublished', ['published_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_delivery_unpublished')

    op.drop_table('webhook_delivery')
    op.drop_table('sync_cursor')
    op.drop_table('order_sync')
    op.drop_table('lease')
    op.drop_table('inventory_level')
    with op.batch_alter_table('entity_mapping', schema=None) as batch_op:
        batch_op.drop_index('ix_entity_mapping_type_woo')

    op.drop_table('entity_mapping')
    op.drop_table('dead_letter')
