"""Per-alert notification events: PagerDuty dedup keys per alert, acknowledge events.

* ``notification_outbox.alert_key`` names the alert a row is about (NULL: not an alert, e.g.
  an incident status update) and ``event`` what happened to it (trigger, acknowledge,
  resolve); rows from before keep ``trigger`` (a ``:resolved`` dedupe_key still means resolve).
* ``notification_messages.alerts`` lists, for a grouped message, each alert's latest event,
  so PagerDuty gets one event per alert (dedup_key = alert key) while the other contact
  points still get one message per rule. ``event`` may now be ``acknowledge``.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE notification_outbox
        ADD COLUMN alert_key text,
        ADD COLUMN event text NOT NULL DEFAULT 'trigger'
            CONSTRAINT ck_notification_outbox_event
            CHECK (event IN ('trigger', 'acknowledge', 'resolve'))
    """)
    op.execute("""
    ALTER TABLE notification_messages
        ADD COLUMN alerts jsonb NOT NULL DEFAULT '[]'::jsonb,
        DROP CONSTRAINT ck_notification_messages_event,
        ADD CONSTRAINT ck_notification_messages_event
            CHECK (event IN ('trigger', 'acknowledge', 'resolve'))
    """)


def downgrade() -> None:
    op.execute("DELETE FROM notification_messages WHERE event = 'acknowledge'")
    op.execute("""
    ALTER TABLE notification_messages
        DROP COLUMN alerts,
        DROP CONSTRAINT ck_notification_messages_event,
        ADD CONSTRAINT ck_notification_messages_event CHECK (event IN ('trigger', 'resolve'))
    """)
    op.execute("ALTER TABLE notification_outbox DROP COLUMN alert_key, DROP COLUMN event")
