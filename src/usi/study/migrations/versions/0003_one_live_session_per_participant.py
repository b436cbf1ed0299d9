"""one live session per participant id (a partial unique index)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 17:30:00

A database written before this revision may already hold several live sessions of one id
(simultaneous entries): all but the newest are expired first, their slots returned to the
pool, as ``usi study serve`` would have done had it known.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

LIVE = "state IN ('consent', 'task', 'chat', 'survey')"


def upgrade() -> None:
    older = (
        f"SELECT s.id FROM sessions s WHERE s.{LIVE} AND EXISTS (SELECT 1 FROM sessions n "
        f"WHERE n.prolific_pid = s.prolific_pid AND n.{LIVE} AND n.id > s.id)"
    )
    op.execute(
        f"UPDATE slots SET status = 'open', session_id = NULL "
        f"WHERE status = 'assigned' AND session_id IN ({older})"
    )
    op.execute(
        f"UPDATE sessions SET state = 'expired', agent_status = 'idle' WHERE id IN ({older})"
    )
    op.create_index(
        "uq_sessions_live_pid",
        "sessions",
        ["prolific_pid"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_sessions_live_pid", table_name="sessions")
