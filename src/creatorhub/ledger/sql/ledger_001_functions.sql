-- ledger: PL/pgSQL loaded by revision 0006_ledger.
-- Never edit this file once released: a change goes into a new, higher-numbered file loaded by a
-- new revision, so that replaying 0006 always builds the same database.
--
-- Balances change only here, in the same statement that writes the entries of a transfer, with
-- every account of the operation locked first in ascending id order (the fixed order is what
-- keeps two transfers between the same accounts from deadlocking).
--
-- Errors carry their own SQLSTATEs (class CH, "creatorhub") so Python can tell them apart from
-- every other failure without parsing messages:
--   CH001 insufficient_funds    CH002 invalid_amount      CH003 currency_mismatch
--   CH004 unknown_account       CH005 hold_not_pending    CH006 same_account
--   CH007 idempotency_mismatch  CH008 post_exceeds_hold   CH009 invalid_request

-- One requested transfer, as the functions below pass them around.
CREATE TYPE ledger.transfer_request AS (
    id uuid,
    ord bigint,
    debit_account_id uuid,
    credit_account_id uuid,
    amount bigint,
    currency text,
    kind text,
    reference_type text,
    reference_id text,
    idempotency_key text,
    hold_id uuid,
    metadata jsonb
);


-- Seed 000's guard, kept by name. The seed logs the attempt and silently keeps the old value;
-- here the whole operation is refused instead (a silently skipped debit leg would create money).
-- The record in seed 000's shape travels in the error's DETAIL: the refused transaction rolls
-- back, so the caller writes it to audit.system_logs in a transaction of its own.
CREATE FUNCTION ledger.prevent_negative_wallet() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_email text;
    v_user_type text;
BEGIN
    IF NEW.owner_type = 'user' THEN
        SELECT u.email, array_to_string(u.roles, ',')
          INTO v_email, v_user_type
          FROM identity.users u
         WHERE u.id = NEW.owner_id;
    END IF;
    RAISE EXCEPTION 'insufficient funds in account %', NEW.id
        USING ERRCODE = 'CH001',
              DETAIL = jsonb_build_object(
                  'table', 'ledger.accounts',
                  'action', 'prevent_negative_wallet',
                  'message', 'Attempted wallet update below 0 prevented',
                  'attempted_at', now(),
                  'attempted_value', NEW.balance - NEW.pending_debits,
                  'previous_value', OLD.balance - OLD.pending_debits,
                  'old_data', jsonb_build_object(
                      'balance', OLD.balance, 'pending_debits', OLD.pending_debits),
                  'account_id', NEW.id,
                  'account_kind', NEW.kind,
                  'currency', NEW.currency,
                  'owner_type', NEW.owner_type,
                  'owner_id', NEW.owner_id,
                  'user_email', v_email,
                  'user_type', v_user_type
              )::text;
END;
$$;

COMMENT ON FUNCTION ledger.prevent_negative_wallet() IS
    'Seed 000 guard: refuses (SQLSTATE CH001) any update leaving a may-not-go-negative account '
    'below zero, pending debits counted; DETAIL holds the seed-shaped system_logs record.';

-- The WHEN clause keeps the guard free on the normal path: the function runs only on a violation.
CREATE TRIGGER trigger_prevent_negative_wallet
    BEFORE UPDATE OF balance, pending_debits ON ledger.accounts
    FOR EACH ROW
    WHEN (NOT NEW.allow_negative AND NEW.balance - NEW.pending_debits < 0)
    EXECUTE FUNCTION ledger.prevent_negative_wallet();


-- Transfers and entries are history: never updated, never deleted.
CREATE FUNCTION ledger.refuse_history_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only: % refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'CH009';
END;
$$;

CREATE TRIGGER transfers_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger.transfers
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_history_change();
CREATE TRIGGER entries_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger.entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_history_change();


-- The account for (owner, kind, currency, shard), created on first use. Concurrent first uses
-- agree on one row (ON CONFLICT), so callers never need to check before creating.
CREATE FUNCTION ledger.ensure_account(
    p_owner_type text,
    p_owner_id uuid,
    p_kind text,
    p_currency text,
    p_shard smallint DEFAULT 0,
    p_allow_negative boolean DEFAULT false
) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid;
BEGIN
    SELECT a.id INTO v_id FROM ledger.accounts a
     WHERE a.owner_type = p_owner_type AND a.owner_id = p_owner_id AND a.kind = p_kind
       AND a.currency = p_currency AND a.shard = p_shard;
    IF FOUND THEN
        RETURN v_id;
    END IF;
    INSERT INTO ledger.accounts (owner_type, owner_id, kind, currency, shard, allow_negative)
    VALUES (p_owner_type, p_owner_id, p_kind, p_currency, p_shard, p_allow_negative)
    ON CONFLICT (owner_type, owner_id, kind, currency, shard) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        SELECT a.id INTO v_id FROM ledger.accounts a
         WHERE a.owner_type = p_owner_type AND a.owner_id = p_owner_id AND a.kind = p_kind
           AND a.currency = p_currency AND a.shard = p_shard;
    END IF;
    RETURN v_id;
END;
$$;


-- Requests as rows, checked for shape. Shared by apply_transfers and post_hold.
CREATE FUNCTION ledger.parse_transfer_requests(p_transfers jsonb)
RETURNS ledger.transfer_request[]
LANGUAGE plpgsql AS $$
DECLARE
    v_requests ledger.transfer_request[];
    v_bad ledger.transfer_request;
BEGIN
    IF p_transfers IS NULL OR jsonb_typeof(p_transfers) <> 'array' THEN
        RAISE EXCEPTION 'transfers must be a JSON array' USING ERRCODE = 'CH009';
    END IF;
    SELECT array_agg(
               ROW(gen_random_uuid(), t.ord, t.debit_account_id, t.credit_account_id, t.amount,
                   t.currency, t.kind, t.reference_type, t.reference_id, t.idempotency_key,
                   t.hold_id, t.metadata)::ledger.transfer_request
               ORDER BY t.ord)
      INTO v_requests
      FROM ROWS FROM (jsonb_to_recordset(p_transfers) AS (
               debit_account_id uuid, credit_account_id uuid, amount bigint, currency text,
               kind text, reference_type text, reference_id text, idempotency_key text,
               hold_id uuid, metadata jsonb)) WITH ORDINALITY AS t(
               debit_account_id, credit_account_id, amount, currency, kind, reference_type,
               reference_id, idempotency_key, hold_id, metadata, ord);
    IF v_requests IS NULL THEN
        RETURN '{}';
    END IF;

    SELECT * INTO v_bad FROM unnest(v_requests) r WHERE r.amount IS NULL OR r.amount <= 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'transfer % of the batch: amount must be a positive integer, got %',
            v_bad.ord, v_bad.amount USING ERRCODE = 'CH002';
    END IF;
    SELECT * INTO v_bad FROM unnest(v_requests) r
     WHERE r.debit_account_id IS NULL OR r.credit_account_id IS NULL
        OR r.kind IS NULL OR r.kind = ''
        OR r.idempotency_key IS NULL OR r.idempotency_key = ''
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'transfer % of the batch: accounts, kind and idempotency_key are required',
            v_bad.ord USING ERRCODE = 'CH009';
    END IF;
    SELECT * INTO v_bad FROM unnest(v_requests) r
     WHERE r.debit_account_id = r.credit_account_id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'transfer % of the batch: debit and credit account are the same (%)',
            v_bad.ord, v_bad.debit_account_id USING ERRCODE = 'CH006';
    END IF;
    RETURN v_requests;
END;
$$;


-- Lock the given (distinct) accounts in ascending id order and check they all exist.
CREATE FUNCTION ledger.lock_accounts(p_ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_locked int;
BEGIN
    PERFORM 1 FROM ledger.accounts a WHERE a.id = ANY (p_ids) ORDER BY a.id FOR UPDATE;
    GET DIAGNOSTICS v_locked = ROW_COUNT;
    IF v_locked <> cardinality(p_ids) THEN
        RAISE EXCEPTION 'unknown account among %', p_ids USING ERRCODE = 'CH004';
    END IF;
END;
$$;


-- Apply one transfer whose two accounts the caller has locked: the fast path (a handful of
-- single-row statements with stable plans). Returns the transfer id (the earlier one for a
-- repeated idempotency key) and whether this call created it.
CREATE FUNCTION ledger.apply_one_locked(
    p_id uuid,
    p_group_id uuid,
    p_debit_account_id uuid,
    p_credit_account_id uuid,
    p_amount bigint,
    p_kind text,
    p_idempotency_key text,
    p_currency text,
    p_reference_type text,
    p_reference_id text,
    p_hold_id uuid,
    p_metadata jsonb,
    OUT transfer_id uuid,
    OUT created boolean
)
LANGUAGE plpgsql AS $$
DECLARE
    v_inserted int;
    v_existing ledger.transfers;
    v_debit_currency text;
    v_credit_currency text;
    v_debit_balance bigint;
    v_debit_version bigint;
    v_credit_balance bigint;
    v_credit_version bigint;
BEGIN
    -- A repeated idempotency key is not applied again (ON CONFLICT); a concurrent first use of
    -- the same key waits here for the other transaction and then sees it. The row is written
    -- only when both accounts hold the transfer's currency.
    INSERT INTO ledger.transfers AS t (
        id, group_id, debit_account_id, credit_account_id, amount, currency, kind,
        reference_type, reference_id, idempotency_key, hold_id, metadata)
    SELECT p_id, coalesce(p_group_id, p_id), p_debit_account_id, p_credit_account_id, p_amount,
           d.currency, p_kind, p_reference_type, p_reference_id, p_idempotency_key, p_hold_id,
           p_metadata
      FROM ledger.accounts d, ledger.accounts c
     WHERE d.id = p_debit_account_id AND c.id = p_credit_account_id
       AND d.currency = c.currency AND (p_currency IS NULL OR p_currency = d.currency)
    ON CONFLICT (idempotency_key) DO NOTHING;
    GET DIAGNOSTICS v_inserted = ROW_COUNT;

    IF v_inserted = 0 THEN
        SELECT * INTO v_existing FROM ledger.transfers t WHERE t.idempotency_key = p_idempotency_key;
        IF NOT FOUND THEN
            SELECT currency INTO v_debit_currency FROM ledger.accounts WHERE id = p_debit_account_id;
            SELECT currency INTO v_credit_currency FROM ledger.accounts WHERE id = p_credit_account_id;
            RAISE EXCEPTION 'currencies differ (debit %, credit %, stated %)',
                v_debit_currency, v_credit_currency, p_currency USING ERRCODE = 'CH003';
        END IF;
        -- A key seen before must name the same transfer: anything else is a client bug that
        -- would otherwise be answered with someone else's transfer.
        IF (v_existing.debit_account_id, v_existing.credit_account_id, v_existing.amount,
            v_existing.kind)
           IS DISTINCT FROM (p_debit_account_id, p_credit_account_id, p_amount, p_kind) THEN
            RAISE EXCEPTION 'idempotency key % was used for another transfer', p_idempotency_key
                USING ERRCODE = 'CH007';
        END IF;
        transfer_id := v_existing.id;
        created := false;
        RETURN;
    END IF;

    UPDATE ledger.accounts SET balance = balance - p_amount, version = version + 1
     WHERE id = p_debit_account_id
     RETURNING balance, version INTO v_debit_balance, v_debit_version;
    UPDATE ledger.accounts SET balance = balance + p_amount, version = version + 1
     WHERE id = p_credit_account_id
     RETURNING balance, version INTO v_credit_balance, v_credit_version;
    INSERT INTO ledger.entries (
        account_id, account_version, transfer_id, amount, previous_balance, new_balance)
    VALUES (p_debit_account_id, v_debit_version, p_id, -p_amount,
            v_debit_balance + p_amount, v_debit_balance),
           (p_credit_account_id, v_credit_version, p_id, p_amount,
            v_credit_balance - p_amount, v_credit_balance);
    transfer_id := p_id;
    created := true;
END;
$$;


-- One transfer, in one round trip: the path every product uses.
CREATE FUNCTION ledger.transfer(
    p_debit_account_id uuid,
    p_credit_account_id uuid,
    p_amount bigint,
    p_kind text,
    p_idempotency_key text,
    p_currency text DEFAULT NULL,
    p_reference_type text DEFAULT NULL,
    p_reference_id text DEFAULT NULL,
    p_metadata jsonb DEFAULT NULL,
    p_group_id uuid DEFAULT NULL
) RETURNS TABLE (transfer_id uuid, idempotency_key text, created boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_result record;
BEGIN
    IF p_amount IS NULL OR p_amount <= 0 THEN
        RAISE EXCEPTION 'amount must be a positive integer, got %', p_amount
            USING ERRCODE = 'CH002';
    END IF;
    IF p_debit_account_id = p_credit_account_id THEN
        RAISE EXCEPTION 'debit and credit account are the same (%)', p_debit_account_id
            USING ERRCODE = 'CH006';
    END IF;
    IF p_idempotency_key IS NULL OR p_idempotency_key = '' OR p_kind IS NULL OR p_kind = ''
       OR p_debit_account_id IS NULL OR p_credit_account_id IS NULL THEN
        RAISE EXCEPTION 'accounts, kind and idempotency_key are required' USING ERRCODE = 'CH009';
    END IF;
    PERFORM ledger.lock_accounts(ARRAY[p_debit_account_id, p_credit_account_id]);
    v_result := ledger.apply_one_locked(
        gen_random_uuid(), p_group_id, p_debit_account_id, p_credit_account_id, p_amount, p_kind,
        p_idempotency_key, p_currency, p_reference_type, p_reference_id, NULL, p_metadata);
    RETURN QUERY SELECT v_result.transfer_id, p_idempotency_key, v_result.created;
END;
$$;


-- A payment that collects a platform fee, in one round trip: gross from the payer to the payee,
-- then the fee from the payee to a fee sub-account, as one group (the payee sees gross, fee and
-- net). The fee's idempotency key is the payment's key + ':fee'.
CREATE FUNCTION ledger.transfer_with_fee(
    p_debit_account_id uuid,
    p_credit_account_id uuid,
    p_amount bigint,
    p_kind text,
    p_idempotency_key text,
    p_fee_account_id uuid,
    p_fee bigint,
    p_currency text DEFAULT NULL,
    p_reference_type text DEFAULT NULL,
    p_reference_id text DEFAULT NULL,
    p_metadata jsonb DEFAULT NULL,
    p_fee_metadata jsonb DEFAULT NULL
) RETURNS TABLE (transfer_id uuid, idempotency_key text, created boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_group uuid := gen_random_uuid();
    v_payment record;
    v_fee record;
BEGIN
    IF p_amount IS NULL OR p_amount <= 0 OR p_fee IS NULL OR p_fee <= 0 OR p_fee > p_amount THEN
        RAISE EXCEPTION 'amount must be positive and the fee between 1 and the amount, got % and %',
            p_amount, p_fee USING ERRCODE = 'CH002';
    END IF;
    IF p_debit_account_id = p_credit_account_id OR p_credit_account_id = p_fee_account_id
       OR p_debit_account_id = p_fee_account_id THEN
        RAISE EXCEPTION 'payer, payee and fee account must differ' USING ERRCODE = 'CH006';
    END IF;
    IF p_idempotency_key IS NULL OR p_idempotency_key = '' OR p_kind IS NULL OR p_kind = ''
       OR p_debit_account_id IS NULL OR p_credit_account_id IS NULL OR p_fee_account_id IS NULL
    THEN
        RAISE EXCEPTION 'accounts, kind and idempotency_key are required' USING ERRCODE = 'CH009';
    END IF;
    PERFORM ledger.lock_accounts(ARRAY[p_debit_account_id, p_credit_account_id, p_fee_account_id]);
    v_payment := ledger.apply_one_locked(
        v_group, v_group, p_debit_account_id, p_credit_account_id, p_amount, p_kind,
        p_idempotency_key, p_currency, p_reference_type, p_reference_id, NULL, p_metadata);
    v_fee := ledger.apply_one_locked(
        gen_random_uuid(), v_group, p_credit_account_id, p_fee_account_id, p_fee, 'platform_fee',
        p_idempotency_key || ':fee', p_currency, p_reference_type, p_reference_id, NULL,
        p_fee_metadata);
    RETURN QUERY VALUES (v_payment.transfer_id, p_idempotency_key, v_payment.created),
                        (v_fee.transfer_id, p_idempotency_key || ':fee', v_fee.created);
END;
$$;


-- Apply already-parsed requests whose accounts the caller has locked, in request order.
-- Small groups (a posting and its fee) go through the fast path one by one; large batches are
-- applied set-based: every statement handles all transfers at once, with hash joins, so the
-- cost per transfer stays flat as the batch grows.
CREATE FUNCTION ledger.apply_locked(p_requests ledger.transfer_request[], p_group_id uuid)
RETURNS TABLE (transfer_id uuid, idempotency_key text, created boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_request ledger.transfer_request;
    v_result record;
    v_bad record;
    v_created uuid[];
BEGIN
    IF cardinality(p_requests) <= 16 THEN
        FOREACH v_request IN ARRAY p_requests LOOP
            v_result := ledger.apply_one_locked(
                v_request.id, p_group_id, v_request.debit_account_id, v_request.credit_account_id,
                v_request.amount, v_request.kind, v_request.idempotency_key, v_request.currency,
                v_request.reference_type, v_request.reference_id, v_request.hold_id,
                v_request.metadata);
            transfer_id := v_result.transfer_id;
            idempotency_key := v_request.idempotency_key;
            created := v_result.created;
            RETURN NEXT;
        END LOOP;
        RETURN;
    END IF;

    SELECT r.ord, d.currency AS debit_currency, c.currency AS credit_currency, r.currency
      INTO v_bad
      FROM unnest(p_requests) r
      JOIN ledger.accounts d ON d.id = r.debit_account_id
      JOIN ledger.accounts c ON c.id = r.credit_account_id
     WHERE d.currency <> c.currency OR (r.currency IS NOT NULL AND r.currency <> d.currency)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'transfer % of the batch: currencies differ (debit %, credit %, stated %)',
            v_bad.ord, v_bad.debit_currency, v_bad.credit_currency, v_bad.currency
            USING ERRCODE = 'CH003';
    END IF;

    WITH inserted AS (
        INSERT INTO ledger.transfers AS t (
            id, group_id, debit_account_id, credit_account_id, amount, currency, kind,
            reference_type, reference_id, idempotency_key, hold_id, metadata)
        SELECT r.id, p_group_id, r.debit_account_id, r.credit_account_id, r.amount, a.currency,
               r.kind, r.reference_type, r.reference_id, r.idempotency_key, r.hold_id, r.metadata
          FROM unnest(p_requests) r
          JOIN ledger.accounts a ON a.id = r.debit_account_id
         ORDER BY r.ord
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING t.id
    )
    SELECT coalesce(array_agg(i.id), '{}') INTO v_created FROM inserted i;

    SELECT r.ord, r.idempotency_key AS key INTO v_bad
      FROM unnest(p_requests) r
      JOIN ledger.transfers t ON t.idempotency_key = r.idempotency_key
     WHERE t.id <> r.id
       AND (t.debit_account_id, t.credit_account_id, t.amount, t.kind)
           IS DISTINCT FROM (r.debit_account_id, r.credit_account_id, r.amount, r.kind)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'transfer % of the batch: idempotency key % was used for another transfer',
            v_bad.ord, v_bad.key USING ERRCODE = 'CH007';
    END IF;

    IF cardinality(v_created) > 0 THEN
        -- Two legs per transfer; the running sum per account, in request order, gives each
        -- entry its previous and new balance and the account's next version: the chain.
        WITH fresh AS (
            SELECT r.* FROM unnest(p_requests) r JOIN unnest(v_created) c(id) ON c.id = r.id
        ), legs AS (
            SELECT f.id AS transfer_id, f.ord, 0 AS leg, f.debit_account_id AS account_id,
                   -f.amount AS amount
              FROM fresh f
            UNION ALL
            SELECT f.id, f.ord, 1, f.credit_account_id, f.amount FROM fresh f
        ), chained AS (
            SELECT l.transfer_id, l.account_id, l.amount,
                   a.balance + sum(l.amount) OVER w AS new_balance,
                   a.version + row_number() OVER w AS account_version
              FROM legs l JOIN ledger.accounts a ON a.id = l.account_id
            WINDOW w AS (PARTITION BY l.account_id ORDER BY l.ord, l.leg
                         ROWS UNBOUNDED PRECEDING)
        ), written AS (
            INSERT INTO ledger.entries (
                account_id, account_version, transfer_id, amount, previous_balance, new_balance)
            SELECT c.account_id, c.account_version, c.transfer_id, c.amount,
                   c.new_balance - c.amount, c.new_balance
              FROM chained c
        )
        UPDATE ledger.accounts a
           SET balance = a.balance + d.delta, version = a.version + d.legs
          FROM (SELECT l.account_id, sum(l.amount) AS delta, count(*) AS legs
                  FROM legs l GROUP BY l.account_id) d
         WHERE a.id = d.account_id;
    END IF;

    IF cardinality(v_created) = cardinality(p_requests) THEN
        -- The common case, every transfer new: no need to look any of them up again.
        RETURN QUERY SELECT r.id, r.idempotency_key, true FROM unnest(p_requests) r ORDER BY r.ord;
        RETURN;
    END IF;
    RETURN QUERY
        SELECT t.id, r.idempotency_key, t.id = r.id
          FROM unnest(p_requests) r
          JOIN ledger.transfers t ON t.idempotency_key = r.idempotency_key
         ORDER BY r.ord;
END;
$$;


-- Apply one or many transfers atomically as one group, in one round trip (also the batch API).
-- p_transfers: a JSON array of {debit_account_id, credit_account_id, amount, kind,
-- idempotency_key, [currency], [reference_type], [reference_id], [metadata]}.
CREATE FUNCTION ledger.apply_transfers(p_transfers jsonb, p_group_id uuid DEFAULT NULL)
RETURNS TABLE (transfer_id uuid, idempotency_key text, created boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_requests ledger.transfer_request[] := ledger.parse_transfer_requests(p_transfers);
BEGIN
    IF cardinality(v_requests) = 0 THEN
        RETURN;
    END IF;
    PERFORM ledger.lock_accounts(
        ARRAY(SELECT r.debit_account_id FROM unnest(v_requests) r
              UNION SELECT r.credit_account_id FROM unnest(v_requests) r));
    RETURN QUERY SELECT * FROM ledger.apply_locked(v_requests, coalesce(p_group_id, gen_random_uuid()));
END;
$$;


-- Reserve: the amount stays on the debit account but counts against what it may spend.
CREATE FUNCTION ledger.create_hold(
    p_debit_account_id uuid,
    p_credit_account_id uuid,
    p_amount bigint,
    p_kind text,
    p_idempotency_key text,
    p_reference_type text DEFAULT NULL,
    p_reference_id text DEFAULT NULL,
    p_expires_at timestamptz DEFAULT NULL,
    p_metadata jsonb DEFAULT NULL,
    p_currency text DEFAULT NULL
) RETURNS TABLE (hold_id uuid, created boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_id uuid;
    v_existing ledger.holds;
    v_debit_currency text;
    v_credit_currency text;
BEGIN
    IF p_amount IS NULL OR p_amount <= 0 THEN
        RAISE EXCEPTION 'hold amount must be a positive integer, got %', p_amount
            USING ERRCODE = 'CH002';
    END IF;
    IF p_debit_account_id = p_credit_account_id THEN
        RAISE EXCEPTION 'debit and credit account are the same (%)', p_debit_account_id
            USING ERRCODE = 'CH006';
    END IF;
    IF p_idempotency_key IS NULL OR p_idempotency_key = '' OR p_kind IS NULL OR p_kind = '' THEN
        RAISE EXCEPTION 'kind and idempotency_key are required' USING ERRCODE = 'CH009';
    END IF;
    PERFORM ledger.lock_accounts(ARRAY[p_debit_account_id, p_credit_account_id]);
    SELECT currency INTO v_debit_currency FROM ledger.accounts WHERE id = p_debit_account_id;
    SELECT currency INTO v_credit_currency FROM ledger.accounts WHERE id = p_credit_account_id;
    IF v_debit_currency <> v_credit_currency OR (p_currency IS NOT NULL AND p_currency <> v_debit_currency) THEN
        RAISE EXCEPTION 'currencies differ (debit %, credit %, stated %)',
            v_debit_currency, v_credit_currency, p_currency USING ERRCODE = 'CH003';
    END IF;

    INSERT INTO ledger.holds (
        debit_account_id, credit_account_id, amount, currency, kind, reference_type,
        reference_id, idempotency_key, expires_at, metadata)
    VALUES (p_debit_account_id, p_credit_account_id, p_amount, v_debit_currency, p_kind,
            p_reference_type, p_reference_id, p_idempotency_key, p_expires_at, p_metadata)
    ON CONFLICT ON CONSTRAINT uq_holds_idempotency_key DO NOTHING
    RETURNING id INTO v_id;

    IF v_id IS NULL THEN
        SELECT * INTO v_existing FROM ledger.holds h WHERE h.idempotency_key = p_idempotency_key;
        IF (v_existing.debit_account_id, v_existing.credit_account_id, v_existing.amount, v_existing.kind)
           IS DISTINCT FROM (p_debit_account_id, p_credit_account_id, p_amount, p_kind) THEN
            RAISE EXCEPTION 'idempotency key % was used for another hold', p_idempotency_key
                USING ERRCODE = 'CH007';
        END IF;
        RETURN QUERY SELECT v_existing.id, false;
        RETURN;
    END IF;

    UPDATE ledger.accounts SET pending_debits = pending_debits + p_amount
     WHERE id = p_debit_account_id;
    UPDATE ledger.accounts SET pending_credits = pending_credits + p_amount
     WHERE id = p_credit_account_id;
    RETURN QUERY SELECT v_id, true;
END;
$$;


-- Lock a hold that must still be pending. Every path that resolves a hold locks the hold row
-- first and then all the accounts it will touch, in one ascending-id pass: taking the hold's
-- accounts first and a fee account later would break the fixed order and could deadlock.
CREATE FUNCTION ledger.lock_pending_hold(p_hold_id uuid) RETURNS ledger.holds
LANGUAGE plpgsql AS $$
DECLARE
    v_hold ledger.holds;
BEGIN
    SELECT * INTO v_hold FROM ledger.holds WHERE id = p_hold_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown hold %', p_hold_id USING ERRCODE = 'CH004';
    END IF;
    IF v_hold.status <> 'pending' THEN
        RAISE EXCEPTION 'hold % is already %', p_hold_id, v_hold.status
            USING ERRCODE = 'CH005', DETAIL = v_hold.status;
    END IF;
    RETURN v_hold;
END;
$$;


-- Give back what a hold reserved (its accounts must be locked by the caller).
CREATE FUNCTION ledger.release_reservation(p_hold ledger.holds) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ledger.accounts SET pending_debits = pending_debits - p_hold.amount
     WHERE id = p_hold.debit_account_id;
    UPDATE ledger.accounts SET pending_credits = pending_credits - p_hold.amount
     WHERE id = p_hold.credit_account_id;
END;
$$;


-- Post all of a hold or part of it (the rest is released), atomically with optional further
-- transfers (a platform fee, say) in the same group. Returns the transfers, the posting first.
CREATE FUNCTION ledger.post_hold(
    p_hold_id uuid,
    p_amount bigint DEFAULT NULL,
    p_also jsonb DEFAULT '[]'::jsonb,
    p_metadata jsonb DEFAULT NULL
) RETURNS TABLE (transfer_id uuid, idempotency_key text, created boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_hold ledger.holds;
    v_amount bigint;
    v_also ledger.transfer_request[] := ledger.parse_transfer_requests(p_also);
    v_requests ledger.transfer_request[];
BEGIN
    v_hold := ledger.lock_pending_hold(p_hold_id);
    v_amount := coalesce(p_amount, v_hold.amount);
    IF v_amount <= 0 THEN
        RAISE EXCEPTION 'posted amount must be positive, got % (void the hold instead)', v_amount
            USING ERRCODE = 'CH002';
    END IF;
    IF v_amount > v_hold.amount THEN
        RAISE EXCEPTION 'cannot post % from hold % of %', v_amount, p_hold_id, v_hold.amount
            USING ERRCODE = 'CH008';
    END IF;

    v_requests := ARRAY[ROW(gen_random_uuid(), 0, v_hold.debit_account_id,
                            v_hold.credit_account_id, v_amount, v_hold.currency, v_hold.kind,
                            v_hold.reference_type, v_hold.reference_id,
                            'hold:' || v_hold.id || ':post', v_hold.id,
                            coalesce(p_metadata, v_hold.metadata))::ledger.transfer_request]
                  || v_also;
    PERFORM ledger.lock_accounts(
        ARRAY(SELECT r.debit_account_id FROM unnest(v_requests) r
              UNION SELECT r.credit_account_id FROM unnest(v_requests) r));
    PERFORM ledger.release_reservation(v_hold);
    UPDATE ledger.holds
       SET status = 'posted', posted_amount = v_amount, resolved_at = now()
     WHERE id = p_hold_id;
    RETURN QUERY SELECT * FROM ledger.apply_locked(v_requests, v_hold.id);
END;
$$;


-- Release a whole hold: 'voided' by a decision, 'expired' by the expiry job.
CREATE FUNCTION ledger.void_hold(p_hold_id uuid, p_status text DEFAULT 'voided') RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_hold ledger.holds;
BEGIN
    IF p_status NOT IN ('voided', 'expired') THEN
        RAISE EXCEPTION 'a hold is released as voided or expired, not %', p_status
            USING ERRCODE = 'CH009';
    END IF;
    v_hold := ledger.lock_pending_hold(p_hold_id);
    PERFORM ledger.lock_accounts(ARRAY[v_hold.debit_account_id, v_hold.credit_account_id]);
    PERFORM ledger.release_reservation(v_hold);
    UPDATE ledger.holds SET status = p_status, resolved_at = now() WHERE id = p_hold_id;
END;
$$;


-- Expire due holds, a few at a time; holds another transaction is resolving are skipped (and
-- are no longer pending once it commits). Returns how many expired.
CREATE FUNCTION ledger.expire_holds(p_now timestamptz, p_limit int DEFAULT 500) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid;
    v_count int := 0;
BEGIN
    FOR v_id IN
        SELECT h.id FROM ledger.holds h
         WHERE h.status = 'pending' AND h.expires_at <= p_now
         ORDER BY h.expires_at, h.id
         LIMIT p_limit
           FOR UPDATE SKIP LOCKED
    LOOP
        PERFORM ledger.void_hold(v_id, 'expired');
        v_count := v_count + 1;
    END LOOP;
    RETURN v_count;
END;
$$;


-- Statements over `unnest(<array variable>)` look like 1 row to a custom plan and 100 to a
-- generic one, so the plan cache never settles on the generic plan and re-plans every statement
-- of every call (about 30 % of a single transfer's server time, measured with perf by the
-- benchmark). The shapes of these plans do not depend on the values: use the generic plans.
ALTER FUNCTION ledger.parse_transfer_requests(jsonb) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION ledger.apply_locked(ledger.transfer_request[], uuid)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION ledger.apply_transfers(jsonb, uuid) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION ledger.post_hold(uuid, bigint, jsonb, jsonb)
    SET plan_cache_mode = force_generic_plan;
