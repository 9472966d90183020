-- ledger: the balance chain moves into the transfer row. Loaded by revision 0010_ledger_chain.
-- Never edit this file once released (see ledger_001_functions.sql).
--
-- A transfer now carries, for each of its two accounts, the account's version after it and the
-- balance after it (the previous balance is that minus or plus the amount). That is what the two
-- rows of ledger.entries held; ledger.entries is now a view over these columns, so readers and
-- `ledger verify` still see one leg per account and version. Per transfer that is one row and
-- two chain indexes instead of three rows, five index entries and four foreign-key checks, and it
-- lets a transfer be three statements: lock and read both accounts, write the transfer, write
-- both balances. Measured with the benchmark before the change: 1.3x (with the entries table)
-- and 1.6x (chain in the row) the throughput of the 0006 functions at 8 clients.
--
-- The functions below replace those of ledger_001 with the same signatures and errors.


-- Apply one transfer whose two accounts the caller has locked (they are locked again here, in
-- id order, which costs nothing for a row this transaction already holds). Returns the transfer
-- id (the earlier one for a repeated idempotency key) and whether this call created it.
CREATE OR REPLACE FUNCTION ledger.apply_one_locked(
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
    v_account record;
    v_inserted int;
    v_existing ledger.transfers;
    v_currency text;
    v_credit_currency text;
    v_debit_balance bigint;
    v_debit_version bigint;
    v_credit_balance bigint;
    v_credit_version bigint;
BEGIN
    -- One statement locks and reads both accounts; the new balances are computed here and
    -- written below, which is exact because nobody else can change a locked row meanwhile.
    FOR v_account IN
        SELECT a.id, a.currency, a.balance, a.version FROM ledger.accounts a
         WHERE a.id IN (p_debit_account_id, p_credit_account_id)
         ORDER BY a.id FOR UPDATE
    LOOP
        IF v_account.id = p_debit_account_id THEN
            v_currency := v_account.currency;
            v_debit_balance := v_account.balance - p_amount;
            v_debit_version := v_account.version + 1;
        ELSE
            v_credit_currency := v_account.currency;
            v_credit_balance := v_account.balance + p_amount;
            v_credit_version := v_account.version + 1;
        END IF;
    END LOOP;
    IF v_currency IS NULL OR v_credit_currency IS NULL THEN
        RAISE EXCEPTION 'unknown account among % and %', p_debit_account_id, p_credit_account_id
            USING ERRCODE = 'CH004';
    END IF;
    IF v_currency <> v_credit_currency OR (p_currency IS NOT NULL AND p_currency <> v_currency)
    THEN
        RAISE EXCEPTION 'currencies differ (debit %, credit %, stated %)',
            v_currency, v_credit_currency, p_currency USING ERRCODE = 'CH003';
    END IF;

    -- A repeated idempotency key is not applied again (ON CONFLICT); a concurrent first use of
    -- the same key waits here for the other transaction and then sees it. No balance has been
    -- touched yet, so a repeat leaves nothing to undo.
    INSERT INTO ledger.transfers AS t (
        id, group_id, debit_account_id, credit_account_id, amount, currency, kind,
        reference_type, reference_id, idempotency_key, hold_id, metadata,
        debit_account_version, debit_new_balance, credit_account_version, credit_new_balance)
    VALUES (p_id, coalesce(p_group_id, p_id), p_debit_account_id, p_credit_account_id, p_amount,
            v_currency, p_kind, p_reference_type, p_reference_id, p_idempotency_key, p_hold_id,
            p_metadata, v_debit_version, v_debit_balance, v_credit_version, v_credit_balance)
    ON CONFLICT (idempotency_key) DO NOTHING;
    GET DIAGNOSTICS v_inserted = ROW_COUNT;

    IF v_inserted = 0 THEN
        SELECT * INTO v_existing FROM ledger.transfers t WHERE t.idempotency_key = p_idempotency_key;
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

    -- Both balances in one statement (the overdraft guard fires here and refuses it all).
    UPDATE ledger.accounts a
       SET balance = CASE WHEN a.id = p_debit_account_id THEN v_debit_balance
                          ELSE v_credit_balance END,
           version = CASE WHEN a.id = p_debit_account_id THEN v_debit_version
                          ELSE v_credit_version END
     WHERE a.id IN (p_debit_account_id, p_credit_account_id);
    transfer_id := p_id;
    created := true;
END;
$$;


-- One transfer, in one round trip: the path every product uses.
CREATE OR REPLACE FUNCTION ledger.transfer(
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
    v_id uuid := gen_random_uuid();
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
    -- apply_one_locked takes the two locks itself, in id order.
    v_result := ledger.apply_one_locked(
        v_id, p_group_id, p_debit_account_id, p_credit_account_id, p_amount, p_kind,
        p_idempotency_key, p_currency, p_reference_type, p_reference_id, NULL, p_metadata);
    -- RETURN NEXT of the OUT columns, not RETURN QUERY: no statement to plan and run.
    transfer_id := v_result.transfer_id;
    idempotency_key := p_idempotency_key;
    created := v_result.created;
    RETURN NEXT;
END;
$$;


-- A payment that collects a platform fee, in one round trip: gross from the payer to the payee,
-- then the fee from the payee to a fee sub-account, as one group (the payee sees gross, fee and
-- net). The fee's idempotency key is the payment's key + ':fee'. Three statements whatever the
-- legs: lock and read the three accounts, write both transfers, write the three balances.
CREATE OR REPLACE FUNCTION ledger.transfer_with_fee(
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
    v_fee_id uuid := gen_random_uuid();
    v_fee_key text := p_idempotency_key || ':fee';
    v_account record;
    v_currencies text[] := '{}';
    v_payer_balance bigint;
    v_payer_version bigint;
    v_payee_balance bigint;  -- after the payment; minus the fee after the fee
    v_payee_version bigint;
    v_fee_balance bigint;
    v_fee_version bigint;
    v_inserted int;
    v_existing ledger.transfers;
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

    FOR v_account IN
        SELECT a.id, a.currency, a.balance, a.version FROM ledger.accounts a
         WHERE a.id IN (p_debit_account_id, p_credit_account_id, p_fee_account_id)
         ORDER BY a.id FOR UPDATE
    LOOP
        v_currencies := v_currencies || v_account.currency;
        IF v_account.id = p_debit_account_id THEN
            v_payer_balance := v_account.balance - p_amount;
            v_payer_version := v_account.version + 1;
        ELSIF v_account.id = p_credit_account_id THEN
            v_payee_balance := v_account.balance + p_amount;
            v_payee_version := v_account.version + 1;
        ELSE
            v_fee_balance := v_account.balance + p_fee;
            v_fee_version := v_account.version + 1;
        END IF;
    END LOOP;
    IF cardinality(v_currencies) <> 3 THEN
        RAISE EXCEPTION 'unknown account among %, % and %',
            p_debit_account_id, p_credit_account_id, p_fee_account_id USING ERRCODE = 'CH004';
    END IF;
    IF v_currencies[1] <> v_currencies[2] OR v_currencies[1] <> v_currencies[3]
       OR (p_currency IS NOT NULL AND p_currency <> v_currencies[1]) THEN
        RAISE EXCEPTION 'currencies differ (accounts %, stated %)', v_currencies, p_currency
            USING ERRCODE = 'CH003';
    END IF;

    INSERT INTO ledger.transfers AS t (
        id, group_id, debit_account_id, credit_account_id, amount, currency, kind,
        reference_type, reference_id, idempotency_key, metadata,
        debit_account_version, debit_new_balance, credit_account_version, credit_new_balance)
    VALUES (v_group, v_group, p_debit_account_id, p_credit_account_id, p_amount,
            v_currencies[1], p_kind, p_reference_type, p_reference_id, p_idempotency_key,
            p_metadata, v_payer_version, v_payer_balance, v_payee_version, v_payee_balance),
           (v_fee_id, v_group, p_credit_account_id, p_fee_account_id, p_fee, v_currencies[1],
            'platform_fee', p_reference_type, p_reference_id, v_fee_key, p_fee_metadata,
            v_payee_version + 1, v_payee_balance - p_fee, v_fee_version, v_fee_balance)
    ON CONFLICT (idempotency_key) DO NOTHING;
    GET DIAGNOSTICS v_inserted = ROW_COUNT;

    IF v_inserted < 2 THEN
        -- Both keys are written together, so a repeat finds both; one without the other means
        -- one of them was used for something else.
        SELECT * INTO v_existing FROM ledger.transfers t WHERE t.idempotency_key = p_idempotency_key;
        IF v_inserted > 0 OR NOT FOUND
           OR (v_existing.debit_account_id, v_existing.credit_account_id, v_existing.amount,
               v_existing.kind)
              IS DISTINCT FROM (p_debit_account_id, p_credit_account_id, p_amount, p_kind) THEN
            RAISE EXCEPTION 'idempotency key % was used for another transfer', p_idempotency_key
                USING ERRCODE = 'CH007';
        END IF;
        RETURN QUERY
            SELECT t.id, t.idempotency_key, false FROM ledger.transfers t
             WHERE t.idempotency_key IN (p_idempotency_key, v_fee_key)
             ORDER BY t.idempotency_key = v_fee_key;
        RETURN;
    END IF;

    UPDATE ledger.accounts a
       SET balance = CASE a.id WHEN p_debit_account_id THEN v_payer_balance
                               WHEN p_credit_account_id THEN v_payee_balance - p_fee
                               ELSE v_fee_balance END,
           version = CASE a.id WHEN p_debit_account_id THEN v_payer_version
                               WHEN p_credit_account_id THEN v_payee_version + 1
                               ELSE v_fee_version END
     WHERE a.id IN (p_debit_account_id, p_credit_account_id, p_fee_account_id);
    transfer_id := v_group;
    idempotency_key := p_idempotency_key;
    created := true;
    RETURN NEXT;
    transfer_id := v_fee_id;
    idempotency_key := v_fee_key;
    RETURN NEXT;
END;
$$;


-- Apply already-parsed requests whose accounts the caller has locked, in request order.
-- Small groups (a posting and its fee) go through apply_one_locked one by one; large batches are
-- applied set-based: the new transfers, their chain positions and the balances are computed for
-- all of them at once and written in one statement, so the cost per transfer stays flat as the
-- batch grows.
CREATE OR REPLACE FUNCTION ledger.apply_locked(p_requests ledger.transfer_request[],
                                               p_group_id uuid)
RETURNS TABLE (transfer_id uuid, idempotency_key text, created boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_request ledger.transfer_request;
    v_result record;
    v_bad record;
    v_fresh bigint;
    v_inserted bigint;
    v_bad_ord bigint;
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

    -- The new transfers are those whose key is not taken (the first of a key repeated within
    -- the batch). Two legs each; the running sum per account, in request order, gives each
    -- leg the account's balance and version after it (the chain), and the next leg of the same
    -- transfer brings the credit side onto the debit leg's row. Windows and sorts, no join
    -- between the intermediate results: the cost per transfer stays flat with the batch size.
    WITH fresh AS (
        SELECT DISTINCT ON (r.idempotency_key) r.*
          FROM unnest(p_requests) r
         WHERE NOT EXISTS (SELECT 1 FROM ledger.transfers t
                            WHERE t.idempotency_key = r.idempotency_key)
         ORDER BY r.idempotency_key, r.ord
    ), legs AS (
        SELECT f.*, 0 AS leg, f.debit_account_id AS account_id, -f.amount AS delta FROM fresh f
        UNION ALL
        SELECT f.*, 1, f.credit_account_id, f.amount FROM fresh f
    ), chained AS (
        SELECT l.*, a.currency AS account_currency,
               a.balance + sum(l.delta) OVER w AS new_balance,
               a.version + row_number() OVER w AS account_version
          FROM legs l JOIN ledger.accounts a ON a.id = l.account_id
        WINDOW w AS (PARTITION BY l.account_id ORDER BY l.ord, l.leg ROWS UNBOUNDED PRECEDING)
    ), paired AS (
        SELECT c.*, lead(c.account_version) OVER p AS credit_version,
               lead(c.new_balance) OVER p AS credit_balance,
               lead(c.account_currency) OVER p AS credit_currency
          FROM chained c
        WINDOW p AS (PARTITION BY c.id ORDER BY c.leg)
    ), inserted AS (
        INSERT INTO ledger.transfers AS t (
            id, group_id, debit_account_id, credit_account_id, amount, currency, kind,
            reference_type, reference_id, idempotency_key, hold_id, metadata,
            debit_account_version, debit_new_balance, credit_account_version, credit_new_balance)
        SELECT p.id, p_group_id, p.debit_account_id, p.credit_account_id, p.amount,
               p.account_currency, p.kind, p.reference_type, p.reference_id, p.idempotency_key,
               p.hold_id, p.metadata, p.account_version, p.new_balance, p.credit_version,
               p.credit_balance
          FROM paired p
         WHERE p.leg = 0
         ORDER BY p.ord
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING t.id
    ), balances AS (
        UPDATE ledger.accounts a
           SET balance = a.balance + d.delta, version = a.version + d.legs
          FROM (SELECT l.account_id, sum(l.delta) AS delta, count(*) AS legs
                  FROM legs l GROUP BY l.account_id) d
         WHERE a.id = d.account_id
    )
    SELECT (SELECT count(*) FROM fresh), (SELECT count(*) FROM inserted),
           (SELECT min(p.ord) FROM paired p
             WHERE p.leg = 0 AND (p.account_currency <> p.credit_currency
                                  OR p.currency IS NOT NULL
                                     AND p.currency <> p.account_currency))
      INTO v_fresh, v_inserted, v_bad_ord;
    IF v_bad_ord IS NOT NULL THEN
        -- Refused whole: the error rolls back what the statement wrote.
        SELECT r.ord, d.currency AS debit_currency, c.currency AS credit_currency, r.currency
          INTO v_bad
          FROM unnest(p_requests) r
          JOIN ledger.accounts d ON d.id = r.debit_account_id
          JOIN ledger.accounts c ON c.id = r.credit_account_id
         WHERE r.ord = v_bad_ord;
        RAISE EXCEPTION 'transfer % of the batch: currencies differ (debit %, credit %, stated %)',
            v_bad.ord, v_bad.debit_currency, v_bad.credit_currency, v_bad.currency
            USING ERRCODE = 'CH003';
    END IF;
    IF v_inserted <> v_fresh THEN
        -- Only a key taken by a concurrent transaction on other accounts gets here (one on the
        -- same accounts waits for our locks): the chain computed above would have a gap.
        RAISE EXCEPTION 'an idempotency key of the batch was used concurrently for another transfer'
            USING ERRCODE = 'CH007';
    END IF;

    IF v_inserted = cardinality(p_requests) THEN
        -- The common case, every transfer new: no key to compare and none to look up again.
        RETURN QUERY SELECT r.id, r.idempotency_key, true FROM unnest(p_requests) r ORDER BY r.ord;
        RETURN;
    END IF;

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
    RETURN QUERY
        SELECT t.id, r.idempotency_key, t.id = r.id
          FROM unnest(p_requests) r
          JOIN ledger.transfers t ON t.idempotency_key = r.idempotency_key
         ORDER BY r.ord;
END;
$$;

-- CREATE OR REPLACE resets a function's settings: apply_locked keeps its generic plans (see
-- ledger_001_functions.sql for why), and sorts a batch of 20,000 in memory rather than on disk.
ALTER FUNCTION ledger.apply_locked(ledger.transfer_request[], uuid)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION ledger.apply_locked(ledger.transfer_request[], uuid) SET work_mem = '64MB';


-- What ledger.entries held, one row per leg, computed from the transfers: the account's version
-- and balance after the leg, and the balance before it.
CREATE VIEW ledger.entries AS
SELECT t.debit_account_id AS account_id, t.debit_account_version AS account_version,
       t.id AS transfer_id, -t.amount AS amount, t.debit_new_balance + t.amount AS previous_balance,
       t.debit_new_balance AS new_balance, t.created_at
  FROM ledger.transfers t
UNION ALL
SELECT t.credit_account_id, t.credit_account_version, t.id, t.amount,
       t.credit_new_balance - t.amount, t.credit_new_balance, t.created_at
  FROM ledger.transfers t;

COMMENT ON VIEW ledger.entries IS
    'One row per leg of each transfer: the balance chain of each account, read from the chain '
    'columns of ledger.transfers.';
