"""The database keeps the books.

* ``ledger_post_entry(...)``: posts one entry in one round trip — creates missing accounts
  (with their balance rows), locks the balance rows in account id order, locks the chain head
  last, computes ``hash = sha256(prev_hash || canonical)``, inserts the entry and its postings
  set-based, updates the cached balances and the head. Idempotent per cause reference.
* A deferred constraint trigger refuses, at commit, any entry whose postings do not sum to
  zero per currency, that has fewer than two postings, or whose postings name an account of
  another currency or mode (live and test money never mix).
* UPDATE and DELETE on entries, postings and accounts are refused; TRUNCATE only for the test
  suite's connections (``paymenthub.test_allow_truncate``), like the audit log.

The canonical serialization must stay identical to ``apps.ledger.chain.canonicalize_entry``.
"""

from django.db import migrations

GENESIS_HASH = "0" * 64

FORWARD = f"""
CREATE OR REPLACE FUNCTION ledger_canonical_field(v text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT octet_length(v)::text || ':' || v || ';' $$;

CREATE OR REPLACE FUNCTION ledger_ensure_accounts(
    p_mode text, p_owners text[], p_kinds text[], p_currencies text[]
) RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
    v_ids bigint[];
BEGIN
    WITH wanted AS (
        SELECT DISTINCT o, k, c FROM unnest(p_owners, p_kinds, p_currencies) AS w(o, k, c)
    ), created AS (
        INSERT INTO ledger_account (owner, mode, kind, currency, created_at)
        SELECT w.o, p_mode, w.k, w.c, now() FROM wanted w
         WHERE NOT EXISTS (
               SELECT 1 FROM ledger_account a
                WHERE a.owner = w.o AND a.mode = p_mode AND a.kind = w.k AND a.currency = w.c)
        ON CONFLICT (owner, mode, kind, currency) DO NOTHING
        RETURNING id
    )
    INSERT INTO ledger_balance (account_id, balance_minor, posting_count, updated_at)
    SELECT id, 0, 0, now() FROM created;

    SELECT array_agg(a.id ORDER BY w.ord) INTO v_ids
      FROM unnest(p_owners, p_kinds, p_currencies) WITH ORDINALITY AS w(o, k, c, ord)
      JOIN ledger_account a
        ON a.owner = w.o AND a.mode = p_mode AND a.kind = w.k AND a.currency = w.c;
    IF coalesce(cardinality(v_ids), 0) <> cardinality(p_owners) THEN
        RAISE EXCEPTION 'ledger: could not resolve every account' USING ERRCODE = '22023';
    END IF;
    RETURN v_ids;
END;
$$;

CREATE OR REPLACE FUNCTION ledger_post_entry(
    p_public_id text, p_rule text, p_cause_type text, p_cause_id text, p_cause_event text,
    p_mode text, p_effective_at timestamptz, p_description text,
    p_owners text[], p_kinds text[], p_currencies text[], p_amounts bigint[],
    p_available_on date[], p_posting_ids text[]
) RETURNS TABLE (entry_id bigint, entry_public_id text, entry_sequence bigint,
                 entry_hash text, created boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer := coalesce(cardinality(p_amounts), 0);
    v_account_ids bigint[];
    v_sequence bigint;
    v_prev text;
    v_hash text;
    v_canonical text;
    v_entry_id bigint;
BEGIN
    IF v_n < 2 OR cardinality(p_owners) <> v_n OR cardinality(p_kinds) <> v_n
       OR cardinality(p_currencies) <> v_n OR cardinality(p_available_on) <> v_n
       OR cardinality(p_posting_ids) <> v_n THEN
        RAISE EXCEPTION 'ledger: an entry needs at least two postings, given as arrays of one length'
            USING ERRCODE = '22023';
    END IF;

    RETURN QUERY SELECT e.id, e.public_id::text, e.sequence, e.hash::text, false
                   FROM ledger_entry e
                  WHERE e.cause_type = p_cause_type AND e.cause_id = p_cause_id
                    AND e.cause_event = p_cause_event;
    IF FOUND THEN
        RETURN;
    END IF;

    v_account_ids := ledger_ensure_accounts(p_mode, p_owners, p_kinds, p_currencies);

    -- Lock order: balance rows in account id order, then the chain head.
    PERFORM 1 FROM ledger_balance b
      WHERE b.account_id = ANY (v_account_ids) ORDER BY b.account_id FOR UPDATE;

    SELECT h.last_sequence, h.last_hash INTO v_sequence, v_prev
      FROM ledger_chain_head h WHERE h.id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO ledger_chain_head (id, last_sequence, last_hash)
        VALUES (1, 0, '{GENESIS_HASH}') ON CONFLICT (id) DO NOTHING;
        SELECT h.last_sequence, h.last_hash INTO v_sequence, v_prev
          FROM ledger_chain_head h WHERE h.id = 1 FOR UPDATE;
    END IF;
    v_sequence := v_sequence + 1;

    v_canonical :=
        ledger_canonical_field(v_sequence::text)
        || ledger_canonical_field(p_public_id)
        || ledger_canonical_field(p_rule)
        || ledger_canonical_field(p_cause_type)
        || ledger_canonical_field(p_cause_id)
        || ledger_canonical_field(p_cause_event)
        || ledger_canonical_field(p_mode)
        || ledger_canonical_field(
               ((extract(epoch FROM p_effective_at) * 1000000)::bigint)::text)
        || ledger_canonical_field(p_description)
        || (SELECT string_agg(
                       ledger_canonical_field(x.pid)
                       || ledger_canonical_field(x.acc::text)
                       || ledger_canonical_field(x.amt::text)
                       || ledger_canonical_field(x.cur)
                       || ledger_canonical_field(coalesce(to_char(x.avail, 'YYYY-MM-DD'), '')),
                       '' ORDER BY x.ord)
              FROM unnest(p_posting_ids, v_account_ids, p_amounts, p_currencies, p_available_on)
                   WITH ORDINALITY AS x(pid, acc, amt, cur, avail, ord));
    v_hash := encode(sha256(convert_to(v_prev || v_canonical, 'UTF8')), 'hex');

    INSERT INTO ledger_entry (public_id, sequence, rule, cause_type, cause_id, cause_event, mode,
                              effective_at, description, prev_hash, hash, created_at)
    VALUES (p_public_id, v_sequence, p_rule, p_cause_type, p_cause_id, p_cause_event, p_mode,
            p_effective_at, p_description, v_prev, v_hash, now())
    ON CONFLICT (cause_type, cause_id, cause_event) DO NOTHING
    RETURNING id INTO v_entry_id;
    IF v_entry_id IS NULL THEN  -- a concurrent writer posted the same cause first
        RETURN QUERY SELECT e.id, e.public_id::text, e.sequence, e.hash::text, false
                       FROM ledger_entry e
                      WHERE e.cause_type = p_cause_type AND e.cause_id = p_cause_id
                        AND e.cause_event = p_cause_event;
        RETURN;
    END IF;

    INSERT INTO ledger_posting (public_id, entry_id, line, account_id, amount_minor, currency,
                                available_on)
    SELECT x.pid, v_entry_id, x.ord, x.acc, x.amt, x.cur, x.avail
      FROM unnest(p_posting_ids, v_account_ids, p_amounts, p_currencies, p_available_on)
           WITH ORDINALITY AS x(pid, acc, amt, cur, avail, ord);

    UPDATE ledger_balance b
       SET balance_minor = b.balance_minor + d.delta,
           posting_count = b.posting_count + d.n,
           updated_at = now()
      FROM (SELECT x.acc, sum(x.amt) AS delta, count(*) AS n
              FROM unnest(v_account_ids, p_amounts) AS x(acc, amt) GROUP BY x.acc) d
     WHERE b.account_id = d.acc;

    UPDATE ledger_chain_head SET last_sequence = v_sequence, last_hash = v_hash WHERE id = 1;

    RETURN QUERY SELECT v_entry_id, p_public_id, v_sequence, v_hash, true;
END;
$$;

CREATE OR REPLACE FUNCTION ledger_check_posting() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_bad_currency text;
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM ledger_account a JOIN ledger_entry e ON e.id = NEW.entry_id
         WHERE a.id = NEW.account_id AND a.currency = NEW.currency AND a.mode = e.mode) THEN
        RAISE EXCEPTION 'ledger posting % names an account of another currency or mode',
            NEW.public_id USING ERRCODE = 'check_violation';
    END IF;
    SELECT p.currency INTO v_bad_currency FROM ledger_posting p
     WHERE p.entry_id = NEW.entry_id GROUP BY p.currency HAVING sum(p.amount_minor) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger entry % does not balance: its % postings do not sum to zero',
            NEW.entry_id, v_bad_currency USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER ledger_posting_entry_balances
    AFTER INSERT ON ledger_posting DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_posting();

CREATE OR REPLACE FUNCTION ledger_check_entry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM ledger_posting p WHERE p.entry_id = NEW.id) < 2 THEN
        RAISE EXCEPTION 'ledger entry % has fewer than two postings', NEW.public_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER ledger_entry_has_postings
    AFTER INSERT ON ledger_entry DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_entry();

CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('paymenthub.test_allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the ledger is append-only: % on % is refused; post a reversing entry',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER ledger_entry_refuse_update_delete BEFORE UPDATE OR DELETE ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entry_refuse_truncate BEFORE TRUNCATE ON ledger_entry
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_posting_refuse_update_delete BEFORE UPDATE OR DELETE ON ledger_posting
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_posting_refuse_truncate BEFORE TRUNCATE ON ledger_posting
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_account_refuse_update_delete BEFORE UPDATE OR DELETE ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_account_refuse_truncate BEFORE TRUNCATE ON ledger_account
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

INSERT INTO ledger_chain_head (id, last_sequence, last_hash)
VALUES (1, 0, '{GENESIS_HASH}') ON CONFLICT (id) DO NOTHING;
"""

BACKWARD = """
DROP TRIGGER IF EXISTS ledger_account_refuse_truncate ON ledger_account;
DROP TRIGGER IF EXISTS ledger_account_refuse_update_delete ON ledger_account;
DROP TRIGGER IF EXISTS ledger_posting_refuse_truncate ON ledger_posting;
DROP TRIGGER IF EXISTS ledger_posting_refuse_update_delete ON ledger_posting;
DROP TRIGGER IF EXISTS ledger_entry_refuse_truncate ON ledger_entry;
DROP TRIGGER IF EXISTS ledger_entry_refuse_update_delete ON ledger_entry;
DROP FUNCTION IF EXISTS ledger_refuse_change();
DROP TRIGGER IF EXISTS ledger_entry_has_postings ON ledger_entry;
DROP FUNCTION IF EXISTS ledger_check_entry();
DROP TRIGGER IF EXISTS ledger_posting_entry_balances ON ledger_posting;
DROP FUNCTION IF EXISTS ledger_check_posting();
DROP FUNCTION IF EXISTS ledger_post_entry(text, text, text, text, text, text, timestamptz,
    text, text[], text[], text[], bigint[], date[], text[]);
DROP FUNCTION IF EXISTS ledger_ensure_accounts(text, text[], text[], text[]);
DROP FUNCTION IF EXISTS ledger_canonical_field(text);
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_books")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
