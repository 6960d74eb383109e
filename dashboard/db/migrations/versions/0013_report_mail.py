"""The managers' report e-mail: a delivery may carry a filed report as its PDF attachment.

``notification_deliveries.report_id`` names the report whose PDF a delivery attaches. Those
deliveries are sent by the report mailing (dashboard.reports.mailing), one per manager
through the SMTP contact point, and log their tries in ``notification_attempts`` like every
other delivery; the notifier leaves them alone (it claims only ``report_id IS NULL``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from alembic import op

revision = "0013"
down_revision = "0012"  # in the gap the lead kept for it: 0012 -> 0013 -> 0014
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE notification_deliveries ADD COLUMN report_id bigint"
        " CONSTRAINT fk_notification_deliveries_report_id REFERENCES reports(id)"
        " ON DELETE CASCADE"
    )
    op.execute(
        "CREATE INDEX ix_notification_deliveries_report_due ON notification_deliveries "
        "(next_attempt_at, id) WHERE status = 'pending' AND report_id IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_notification_deliveries_report_due")
    op.execute("ALTER TABLE notification_deliveries DROP COLUMN IF EXISTS report_id")
