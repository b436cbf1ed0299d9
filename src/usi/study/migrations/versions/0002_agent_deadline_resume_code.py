"""agent turn deadline, resume code, agent error log

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("agent_since", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("resume_hash", sa.String(length=64), nullable=True))
    op.create_table(
        "agent_errors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("after_seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_agent_errors_session_id"), "agent_errors", ["session_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_agent_errors_session_id"), table_name="agent_errors")
    op.drop_table("agent_errors")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("resume_hash")
        batch.drop_column("agent_since")
