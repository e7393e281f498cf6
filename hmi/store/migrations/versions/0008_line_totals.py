"""The shopfloors' running totals of production by instant, for OEE over long ranges (issue 14).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Each report's increase over the report before it (by seq) of its instruction, summed per shopfloor and
# instant, then accumulated over time per shopfloor.
BACKFILL = """
INSERT INTO line_totals (shopfloor_id, at_us, good, defective)
SELECT shopfloor_id, reported_us,
       SUM(g) OVER (PARTITION BY shopfloor_id ORDER BY reported_us ROWS UNBOUNDED PRECEDING),
       SUM(d) OVER (PARTITION BY shopfloor_id ORDER BY reported_us ROWS UNBOUNDED PRECEDING)
FROM (
    SELECT shopfloor_id, reported_us, SUM(g) AS g, SUM(d) AS d
    FROM (SELECT shopfloor_id, reported_us,
                 produced - LAG(produced, 1, 0) OVER (PARTITION BY instruction_id ORDER BY seq) AS g,
                 defective - LAG(defective, 1, 0) OVER (PARTITION BY instruction_id ORDER BY seq) AS d
          FROM report_receipts) AS increases
    GROUP BY shopfloor_id, reported_us
) AS per_instant
"""


def upgrade() -> None:
    """Create line_totals and fill it from the reports received so far."""
    op.create_table(
        "line_totals",
        sa.Column("shopfloor_id", sa.Text, primary_key=True),
        sa.Column("at_us", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("good", sa.BigInteger, nullable=False),
        sa.Column("defective", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    """Drop line_totals."""
    op.drop_table("line_totals")
