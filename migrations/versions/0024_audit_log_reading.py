"""Audit log: read newest first by action or by actor, and kept append-only.

The log is read by the platform operator (`GET /api/v1/audit-events`, `registry audit list`)
filtered by an action, an actor or an object, newest first: an index on each with the id. A trigger
refuses to change or delete an event, so that no code path of the application can rewrite the
record. The table's owner can still disable the trigger: in production the service should
connect as a role that does not own the tables (deploy/README.md).

Revision ID: 0024_audit_log_reading
Revises: 0023_membership_awaits_approval
Create Date: 2026-11-24 06:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024_audit_log_reading"
down_revision: str | None = "0023_membership_awaits_approval"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # An object's events are asked for by its id, with or without its type: ids are unique
    # across types, so the id leads (the old index led with the type).
    op.drop_index(op.f("ix_audit_event_object_type_object_id"), table_name="audit_event")
    op.create_index(op.f("ix_audit_event_object_id_id"), "audit_event", ["object_id", "id"])
    op.create_index(op.f("ix_audit_event_action_id"), "audit_event", ["action", "id"])
    op.create_index(op.f("ix_audit_event_actor_id"), "audit_event", ["actor", "id"])
    op.execute(
        """
        CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit events are never changed or deleted'
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
        "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event")
    op.execute("DROP TRIGGER audit_event_append_only ON audit_event")
    op.execute("DROP FUNCTION audit_event_append_only()")
    op.drop_index(op.f("ix_audit_event_actor_id"), table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_action_id"), table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_object_id_id"), table_name="audit_event")
    op.create_index(
        op.f("ix_audit_event_object_type_object_id"), "audit_event", ["object_type", "object_id"]
    )
