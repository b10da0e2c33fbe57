"""Posting many entries in one call, and the books' checks made set-based.

``ledger_post_entries(...)`` is the bulk twin of ``ledger_post_entry`` (migration 0002), for
batch work (settlement, imports, corrections). Entries travel as arrays (one element per
entry), the distinct accounts as arrays (mode, owner, kind, currency) and the postings as flat
arrays naming their entry and account by position, grouped by entry in input order. One call:

* refuses a batch whose postings are not grouped by entry with lines numbered 1, 2, ...
  (the canonical form and the stored line numbers must agree);
* creates missing accounts (with their balance rows) and resolves them once per account;
* locks every touched balance row in account id order, then the chain head (the ledger's
  one lock order);
* extends the hash chain in input order with the canonical form of the single path (a loop
  of one sha256 per entry: the only step that is not set-based), optimistically as if every
  cause were new, and again skipping the causes already posted if the cause constraint
  says otherwise (checked under the head lock, when every earlier writer has committed);
* writes all entries and all postings with one INSERT statement, updates each touched
  balance once and moves the head once;
* returns one row per input entry (``created`` false for causes already posted).

The checks of the books become statement-level triggers over transition tables instead of
row-level deferred triggers (one set-based query per statement instead of one query per row
at commit, which cost more than the bulk insert itself):

* every posting names an existing entry and an account of its own currency and of the
  entry's mode — which also replaces the postings' foreign keys (entries and accounts can
  never be deleted);
* the new postings of every entry sum to zero per currency (every earlier statement was
  checked, so the entry as a whole still does; a lone posting never can, as postings are
  never zero);
* every new entry has postings.

An entry and its postings are therefore written by one statement; both posting functions do
(``ledger_post_entry`` is redefined here to write them with one INSERT ... WITH).
"""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

FORWARD = """
-- The integrity checks, set-based: once per statement over its transition table instead of
-- once per row at commit. An entry and its postings are therefore written by one statement
-- (both posting functions do; raw SQL must too).
DROP TRIGGER IF EXISTS ledger_posting_entry_balances ON ledger_posting;
DROP FUNCTION IF EXISTS ledger_check_posting();
DROP TRIGGER IF EXISTS ledger_entry_has_postings ON ledger_entry;
DROP FUNCTION IF EXISTS ledger_check_entry();

CREATE OR REPLACE FUNCTION ledger_check_new_postings() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_public_id text;
    v_entry bigint;
    v_currency text;
BEGIN
    -- Each new posting names an existing entry and an account of its own currency and of
    -- the entry's mode (entries and accounts are never deleted, so this is the foreign key).
    SELECT n.public_id INTO v_public_id
      FROM new_postings n
      LEFT JOIN ledger_entry e ON e.id = n.entry_id
      LEFT JOIN ledger_account a ON a.id = n.account_id
     WHERE e.id IS NULL OR a.id IS NULL OR a.currency <> n.currency OR a.mode <> e.mode
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger posting % names an account of another currency or mode '
                        '(or a missing entry or account)', v_public_id
            USING ERRCODE = 'check_violation';
    END IF;
    -- Every entry summed to zero per currency before this statement (each statement is
    -- checked), so it still does if and only if its new postings sum to zero. A lone
    -- posting cannot (postings are never zero): entries keep at least two postings.
    SELECT n.entry_id, n.currency INTO v_entry, v_currency
      FROM new_postings n
     GROUP BY n.entry_id, n.currency HAVING sum(n.amount_minor) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger entry % does not balance: its % postings do not sum to zero',
            v_entry, v_currency USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER ledger_posting_entry_balances AFTER INSERT ON ledger_posting
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_new_postings();

CREATE OR REPLACE FUNCTION ledger_check_new_entries() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_public_id text;
BEGIN
    -- An entry comes with its postings, in the same statement (at least two: see above).
    SELECT n.public_id INTO v_public_id
      FROM new_entries n
     WHERE (SELECT p.id FROM ledger_posting p WHERE p.entry_id = n.id LIMIT 1) IS NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger entry % has fewer than two postings', v_public_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER ledger_entry_has_postings AFTER INSERT ON ledger_entry
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_new_entries();

-- Indexes the unique and composite ones already cover, and LIKE indexes no query uses:
-- each costs every insert.
DROP INDEX IF EXISTS ledger_posting_public_id_f1a3c9fd_like;
DROP INDEX IF EXISTS ledger_entry_public_id_6af0919d_like;

-- The single-entry path, unchanged but for writing the entry and its postings in one
-- statement (so the statement-level checks see them together).
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
        VALUES (1, 0, repeat('0', 64)) ON CONFLICT (id) DO NOTHING;
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

    WITH new_entry AS (
        INSERT INTO ledger_entry (public_id, sequence, rule, cause_type, cause_id, cause_event,
                                  mode, effective_at, description, prev_hash, hash, created_at)
        VALUES (p_public_id, v_sequence, p_rule, p_cause_type, p_cause_id, p_cause_event, p_mode,
                p_effective_at, p_description, v_prev, v_hash, now())
        ON CONFLICT (cause_type, cause_id, cause_event) DO NOTHING
        RETURNING id
    ), new_postings AS (
        INSERT INTO ledger_posting (public_id, entry_id, line, account_id, amount_minor,
                                    currency, available_on)
        SELECT x.pid, ne.id, x.ord, x.acc, x.amt, x.cur, x.avail
          FROM new_entry ne,
               unnest(p_posting_ids, v_account_ids, p_amounts, p_currencies, p_available_on)
               WITH ORDINALITY AS x(pid, acc, amt, cur, avail, ord)
    )
    SELECT ne.id INTO v_entry_id FROM new_entry ne;
    IF v_entry_id IS NULL THEN  -- a concurrent writer posted the same cause first
        RETURN QUERY SELECT e.id, e.public_id::text, e.sequence, e.hash::text, false
                       FROM ledger_entry e
                      WHERE e.cause_type = p_cause_type AND e.cause_id = p_cause_id
                        AND e.cause_event = p_cause_event;
        RETURN;
    END IF;

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

CREATE OR REPLACE FUNCTION ledger_post_entries(
    p_public_ids text[], p_rules text[], p_cause_types text[], p_cause_ids text[],
    p_cause_events text[], p_modes text[], p_effective_at timestamptz[], p_descriptions text[],
    p_account_modes text[], p_account_owners text[], p_account_kinds text[],
    p_account_currencies text[],
    p_entry_index integer[], p_account_index integer[], p_lines integer[],
    p_currencies text[], p_amounts bigint[], p_available_on date[], p_posting_ids text[]
) RETURNS TABLE (entry_index integer, entry_id bigint, entry_public_id text,
                 entry_sequence bigint, entry_hash text, created boolean)
LANGUAGE plpgsql SET work_mem = '64MB' SET jit = off AS $$
DECLARE
    v_n integer := coalesce(cardinality(p_public_ids), 0);
    v_k integer := coalesce(cardinality(p_account_owners), 0);
    v_m integer := coalesce(cardinality(p_amounts), 0);
    v_bad integer;
    v_key_ids bigint[];
    v_posting_accounts bigint[];
    v_bodies text[];
    v_sequence bigint;
    v_prev text;
    v_hash text;
    v_new integer := 0;
    v_entry_ids bigint[] := '{}';
    v_sequences bigint[] := '{}';
    v_prev_hashes text[] := '{}';
    v_hashes text[] := '{}';
    v_row record;
    v_id_sequence text := pg_get_serial_sequence('ledger_entry', 'id');
    v_probe boolean := false;
    v_constraint text;
BEGIN
    IF cardinality(p_rules) IS DISTINCT FROM v_n OR cardinality(p_cause_types) IS DISTINCT FROM v_n
       OR cardinality(p_cause_ids) IS DISTINCT FROM v_n
       OR cardinality(p_cause_events) IS DISTINCT FROM v_n
       OR cardinality(p_modes) IS DISTINCT FROM v_n
       OR cardinality(p_effective_at) IS DISTINCT FROM v_n
       OR cardinality(p_descriptions) IS DISTINCT FROM v_n
       OR cardinality(p_account_modes) IS DISTINCT FROM v_k
       OR cardinality(p_account_kinds) IS DISTINCT FROM v_k
       OR cardinality(p_account_currencies) IS DISTINCT FROM v_k
       OR cardinality(p_entry_index) IS DISTINCT FROM v_m
       OR cardinality(p_account_index) IS DISTINCT FROM v_m
       OR cardinality(p_lines) IS DISTINCT FROM v_m
       OR cardinality(p_currencies) IS DISTINCT FROM v_m
       OR cardinality(p_available_on) IS DISTINCT FROM v_m
       OR cardinality(p_posting_ids) IS DISTINCT FROM v_m THEN
        RAISE EXCEPTION 'ledger: entry, account and posting arrays must each have one length'
            USING ERRCODE = '22023';
    END IF;
    IF v_n = 0 THEN
        RETURN;
    END IF;

    -- The batch's shape: postings come grouped by entry, in entry order, each entry's lines
    -- numbered 1, 2, ... (the canonical form and the line numbers must agree). Balance and
    -- causes are checked by the triggers and the unique constraint, as for every entry.
    SELECT x.ord INTO v_bad
      FROM unnest(p_entry_index, p_account_index, p_lines) WITH ORDINALITY AS x(ei, ai, ln, ord)
     WHERE x.ei IS NULL OR x.ei < 1 OR x.ei > v_n OR x.ai IS NULL OR x.ai < 1 OR x.ai > v_k
        OR x.ln IS NULL OR x.ln < 1
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: posting % names no entry, account or line of this batch', v_bad
            USING ERRCODE = '22023';
    END IF;
    SELECT min(g.ei) INTO v_bad
      FROM (SELECT x.ei, x.ln, lag(x.ei) OVER w AS prev_ei, lag(x.ln) OVER w AS prev_ln,
                   lead(x.ei) OVER w AS next_ei, x.ord
              FROM unnest(p_entry_index, p_lines) WITH ORDINALITY AS x(ei, ln, ord)
            WINDOW w AS (ORDER BY x.ord)) g
     WHERE NOT (CASE WHEN g.prev_ei IS NULL THEN g.ei = 1 AND g.ln = 1
                     WHEN g.prev_ei = g.ei THEN g.ln = g.prev_ln + 1
                     ELSE g.ei = g.prev_ei + 1 AND g.ln = 1 AND g.prev_ln >= 2 END)
        OR (g.next_ei IS NULL AND (g.ei <> v_n OR g.ln < 2));
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'ledger: the postings of entry % are not grouped in entry order, '
                        'numbered from 1, at least two', v_bad USING ERRCODE = '22023';
    END IF;
    -- Accounts: create the missing ones (with their balance rows), then resolve the keys.
    WITH created_accounts AS (
        INSERT INTO ledger_account (owner, mode, kind, currency, created_at)
        SELECT w.o, w.m, w.k, w.c, now()
          FROM unnest(p_account_modes, p_account_owners, p_account_kinds, p_account_currencies)
               AS w(m, o, k, c)
         WHERE NOT EXISTS (
               SELECT 1 FROM ledger_account a
                WHERE a.owner = w.o AND a.mode = w.m AND a.kind = w.k AND a.currency = w.c)
        ON CONFLICT (owner, mode, kind, currency) DO NOTHING
        RETURNING id
    )
    INSERT INTO ledger_balance (account_id, balance_minor, posting_count, updated_at)
    SELECT id, 0, 0, now() FROM created_accounts;

    SELECT array_agg(a.id ORDER BY w.ord) INTO v_key_ids
      FROM unnest(p_account_modes, p_account_owners, p_account_kinds, p_account_currencies)
           WITH ORDINALITY AS w(m, o, k, c, ord)
      JOIN ledger_account a
        ON a.owner = w.o AND a.mode = w.m AND a.kind = w.k AND a.currency = w.c;
    IF coalesce(cardinality(v_key_ids), 0) <> v_k THEN
        RAISE EXCEPTION 'ledger: could not resolve every account' USING ERRCODE = '22023';
    END IF;
    SELECT array_agg(v_key_ids[x.ai] ORDER BY x.ord) INTO v_posting_accounts
      FROM unnest(p_account_index) WITH ORDINALITY AS x(ai, ord);

    -- Lock order: balance rows in account id order, then the chain head.
    PERFORM 1 FROM ledger_balance b
      WHERE b.account_id = ANY (v_key_ids) ORDER BY b.account_id FOR UPDATE;
    SELECT h.last_sequence, h.last_hash INTO v_sequence, v_prev
      FROM ledger_chain_head h WHERE h.id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO ledger_chain_head (id, last_sequence, last_hash)
        VALUES (1, 0, repeat('0', 64)) ON CONFLICT (id) DO NOTHING;
        SELECT h.last_sequence, h.last_hash INTO v_sequence, v_prev
          FROM ledger_chain_head h WHERE h.id = 1 FOR UPDATE;
    END IF;

    -- Each entry's postings in its canonical form (as ledger_post_entry and chain.py).
    SELECT array_agg(b.body ORDER BY b.ei) INTO v_bodies
      FROM (SELECT x.ei, string_agg(
                       ledger_canonical_field(x.pid)
                       || ledger_canonical_field(x.acc::text)
                       || ledger_canonical_field(x.amt::text)
                       || ledger_canonical_field(x.cur)
                       || ledger_canonical_field(coalesce(to_char(x.avail, 'YYYY-MM-DD'), '')),
                       '' ORDER BY x.ord) AS body
              FROM unnest(p_entry_index, p_posting_ids, v_posting_accounts, p_amounts,
                          p_currencies, p_available_on)
                   WITH ORDINALITY AS x(ei, pid, acc, amt, cur, avail, ord)
             GROUP BY x.ei) b;

    -- The chain, in input order: hash_k = sha256(hash_(k-1) || canonical_k), then one
    -- statement writing the entries and their postings. First optimistically, as if no cause
    -- were posted yet (batch work posts new causes); if the cause constraint says otherwise,
    -- everything is undone and done again skipping the causes already posted (an index probe
    -- each). This runs under the head lock, so every earlier writer has committed and the
    -- probe is exact. Ids come from the entry table's own sequence.
    LOOP
        v_new := 0;
        v_hash := v_prev;
        v_entry_ids := '{}';
        v_sequences := '{}';
        v_prev_hashes := '{}';
        v_hashes := '{}';
        FOR v_row IN
            SELECT v_probe AND (SELECT true FROM ledger_entry e  -- LIMIT: a probe, never
                                 WHERE e.cause_type = u.ct AND e.cause_id = u.ci  -- a scan
                                   AND e.cause_event = u.ce LIMIT 1) IS NOT NULL AS seen,
                   ledger_canonical_field(u.pid) || ledger_canonical_field(u.rule)
                   || ledger_canonical_field(u.ct) || ledger_canonical_field(u.ci)
                   || ledger_canonical_field(u.ce) || ledger_canonical_field(u.mode)
                   || ledger_canonical_field(
                          ((extract(epoch FROM u.eff) * 1000000)::bigint)::text)
                   || ledger_canonical_field(u.descr) || u.body AS tail
              FROM unnest(p_public_ids, p_rules, p_cause_types, p_cause_ids, p_cause_events,
                          p_modes, p_effective_at, p_descriptions, v_bodies)
                   WITH ORDINALITY AS u(pid, rule, ct, ci, ce, mode, eff, descr, body, ord)
             ORDER BY u.ord
        LOOP
            IF v_row.seen THEN
                v_entry_ids := array_append(v_entry_ids, 0::bigint);
                v_sequences := array_append(v_sequences, 0::bigint);
                v_prev_hashes := array_append(v_prev_hashes, ''::text);
                v_hashes := array_append(v_hashes, ''::text);
            ELSE
                v_new := v_new + 1;
                v_prev_hashes := array_append(v_prev_hashes, v_hash);
                v_hash := encode(sha256(convert_to(
                    v_hash || ledger_canonical_field((v_sequence + v_new)::text) || v_row.tail,
                    'UTF8')), 'hex');
                v_hashes := array_append(v_hashes, v_hash);
                v_sequences := array_append(v_sequences, v_sequence + v_new);
                v_entry_ids := array_append(v_entry_ids, nextval(v_id_sequence));
            END IF;
        END LOOP;
        EXIT WHEN v_new = 0;

        BEGIN
            WITH new_entries AS (
                INSERT INTO ledger_entry (id, public_id, sequence, rule, cause_type, cause_id,
                                          cause_event, mode, effective_at, description,
                                          prev_hash, hash, created_at)
                SELECT u.id, u.pid, u.seq, u.rule, u.ct, u.ci, u.ce, u.mode, u.eff, u.descr,
                       u.prev, u.hash, now()
                  FROM unnest(v_entry_ids, p_public_ids, v_sequences, p_rules, p_cause_types,
                              p_cause_ids, p_cause_events, p_modes, p_effective_at,
                              p_descriptions, v_prev_hashes, v_hashes)
                       AS u(id, pid, seq, rule, ct, ci, ce, mode, eff, descr, prev, hash)
                 WHERE u.id <> 0
                RETURNING 1
            )  -- one statement for entries and postings: the checks run once, after both
            INSERT INTO ledger_posting (public_id, entry_id, line, account_id, amount_minor,
                                        currency, available_on)
            SELECT x.pid, v_entry_ids[x.ei], x.ln, x.acc, x.amt, x.cur, x.avail
              FROM unnest(p_entry_index, p_posting_ids, p_lines, v_posting_accounts, p_amounts,
                          p_currencies, p_available_on)
                   AS x(ei, pid, ln, acc, amt, cur, avail)
             WHERE v_entry_ids[x.ei] <> 0;
            EXIT;
        EXCEPTION WHEN unique_violation THEN
            GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
            IF v_probe OR v_constraint <> 'ledger_entry_unique_cause' THEN
                RAISE;
            END IF;
            v_probe := true;  -- some causes were posted before: again, skipping them
        END;
    END LOOP;

    IF v_new > 0 THEN
        UPDATE ledger_balance b
           SET balance_minor = b.balance_minor + d.delta,
               posting_count = b.posting_count + d.n,
               updated_at = now()
          FROM (SELECT x.acc, sum(x.amt) AS delta, count(*) AS n
                  FROM unnest(p_entry_index, v_posting_accounts, p_amounts) AS x(ei, acc, amt)
                 WHERE v_entry_ids[x.ei] <> 0
                 GROUP BY x.acc) d
         WHERE b.account_id = d.acc;

        UPDATE ledger_chain_head SET last_sequence = v_sequence + v_new, last_hash = v_hash
         WHERE id = 1;
    END IF;

    RETURN QUERY
        SELECT u.ord::integer, u.id, u.pid, u.seq, u.hash, true
          FROM unnest(v_entry_ids, p_public_ids, v_sequences, v_hashes)
               WITH ORDINALITY AS u(id, pid, seq, hash, ord)
         WHERE u.id <> 0;
    IF v_new < v_n THEN
        RETURN QUERY
            SELECT u.ord::integer, e.id, e.public_id::text, e.sequence, e.hash::text, false
              FROM unnest(v_entry_ids, p_cause_types, p_cause_ids, p_cause_events)
                   WITH ORDINALITY AS u(id, ct, ci, ce, ord)
              JOIN ledger_entry e
                ON e.cause_type = u.ct AND e.cause_id = u.ci AND e.cause_event = u.ce
             WHERE u.id = 0;
    END IF;
END;
$$;
"""

_BEFORE = import_module("apps.ledger.migrations.0002_the_database_keeps_the_books").FORWARD
BACKWARD = (
    """
DROP FUNCTION IF EXISTS ledger_post_entries(text[], text[], text[], text[], text[], text[],
    timestamptz[], text[], text[], text[], text[], text[], integer[], integer[], integer[],
    text[], bigint[], date[], text[]);
DROP TRIGGER IF EXISTS ledger_entry_has_postings ON ledger_entry;
DROP FUNCTION IF EXISTS ledger_check_new_entries();
DROP TRIGGER IF EXISTS ledger_posting_entry_balances ON ledger_posting;
DROP FUNCTION IF EXISTS ledger_check_new_postings();
CREATE INDEX IF NOT EXISTS ledger_posting_public_id_f1a3c9fd_like
    ON ledger_posting (public_id varchar_pattern_ops);
CREATE INDEX IF NOT EXISTS ledger_entry_public_id_6af0919d_like
    ON ledger_entry (public_id varchar_pattern_ops);
"""
    # 0002's functions and row-level deferred checks, as they were
    + _BEFORE[: _BEFORE.index("CREATE OR REPLACE FUNCTION ledger_refuse_change()")]
)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_the_database_keeps_the_books")]

    operations = [
        # Postings keep their relations in Django but not as database foreign keys: the
        # statement-level check below refuses a posting whose entry or account is missing,
        # entries and accounts are never deleted, and per-row foreign key checks cost more
        # than the bulk insert itself. Their single-column indexes are covered by
        # (entry_id, line) and (account_id, id).
        migrations.AlterField(
            model_name="posting",
            name="account",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="postings",
                to="ledger.account",
            ),
        ),
        migrations.AlterField(
            model_name="posting",
            name="entry",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="postings",
                to="ledger.journalentry",
            ),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
