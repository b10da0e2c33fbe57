"""The database, not Python, keeps the audit log append-only, and seeds the chain head."""

from django.db import migrations

GENESIS_HASH = "0" * 64

FORWARD = f"""
CREATE OR REPLACE FUNCTION common_refuse_audit_change() RETURNS trigger AS $$
BEGIN
    -- Only the test suite's connections set this (paymenthub/settings/test.py), so Django can
    -- empty tables between transactional tests. UPDATE and DELETE are refused regardless.
    IF TG_OP = 'TRUNCATE' AND current_setting('paymenthub.test_allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit log is append-only: % on common_audit_event is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_event_refuse_update_delete
    BEFORE UPDATE OR DELETE ON common_audit_event
    FOR EACH ROW EXECUTE FUNCTION common_refuse_audit_change();

CREATE TRIGGER audit_event_refuse_truncate
    BEFORE TRUNCATE ON common_audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION common_refuse_audit_change();

INSERT INTO common_audit_chain_head (id, last_sequence, last_hash)
VALUES (1, 0, '{GENESIS_HASH}')
ON CONFLICT (id) DO NOTHING;
"""

BACKWARD = """
DROP TRIGGER IF EXISTS audit_event_refuse_truncate ON common_audit_event;
DROP TRIGGER IF EXISTS audit_event_refuse_update_delete ON common_audit_event;
DROP FUNCTION IF EXISTS common_refuse_audit_change();
"""


class Migration(migrations.Migration):
    dependencies = [("common", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
