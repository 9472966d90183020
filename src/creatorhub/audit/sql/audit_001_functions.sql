-- audit: PL/pgSQL loaded by revision 0002_audit.
-- Never edit this file once released: a change goes into a new, higher-numbered file loaded by a
-- new revision, so that replaying 0002 always builds the same database.

-- The trail is append-only. Row triggers refuse UPDATE and DELETE; retention works on whole
-- partitions (DETACH / DROP TABLE), which fires no row trigger, so it stays possible.
CREATE FUNCTION audit.forbid_row_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Named after the partitioned table, not the partition the row happens to sit in.
    RAISE EXCEPTION '% is append-only: % of a row is not allowed',
            coalesce(pg_partition_root(TG_RELID), TG_RELID)::regclass, TG_OP
        USING ERRCODE = 'P0001',
              HINT = 'Audit rows are never changed; retention drops whole monthly partitions.';
END;
$$;

COMMENT ON FUNCTION audit.forbid_row_change() IS
    'BEFORE UPDATE OR DELETE row trigger of the audit tables: the trail is append-only.';


-- Monthly range partitions <table>_pYYYYMM of a table partitioned by a timestamptz column.
-- Months are calendar months in UTC whatever the session's time zone, so a partition's bounds do
-- not depend on who created it. Idempotent and safe to run concurrently: returns how many
-- partitions it created.
--
-- Creating a month whose rows already sit in the <table>_default partition fails (PostgreSQL
-- refuses to leave them there): run this ahead of time, e.g. from a daily job, so the default
-- partition only catches the unexpected (clock skew, back-dated imports).
CREATE FUNCTION audit.ensure_monthly_partitions(p_parent regclass, p_from date, p_months integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_schema  name;
    v_table   name;
    v_start   date;
    v_name    text;
    v_locked  boolean := false;
    v_created integer := 0;
BEGIN
    IF p_parent IS NULL OR p_from IS NULL OR p_months IS NULL OR p_months < 0 THEN
        RAISE EXCEPTION 'ensure_monthly_partitions(%, %, %): arguments must be set and p_months >= 0',
            p_parent, p_from, p_months
            USING ERRCODE = '22023';
    END IF;

    SELECT n.nspname, c.relname INTO v_schema, v_table
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = p_parent AND c.relkind = 'p';
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not a partitioned table', p_parent USING ERRCODE = '42809';
    END IF;

    FOR i IN 0 .. p_months - 1 LOOP
        -- timestamp without time zone: calendar arithmetic, untouched by the session's TimeZone.
        v_start := (date_trunc('month', p_from::timestamp) + make_interval(months => i))::date;
        v_name := v_table || '_p' || to_char(v_start, 'YYYYMM');
        CONTINUE WHEN to_regclass(format('%I.%I', v_schema, v_name)) IS NOT NULL;

        IF NOT v_locked THEN
            -- SHARE UPDATE EXCLUSIVE conflicts with itself but not with INSERT: concurrent
            -- callers take turns, and the one that waited sees the partitions made meanwhile.
            EXECUTE format('LOCK TABLE %I.%I IN SHARE UPDATE EXCLUSIVE MODE', v_schema, v_table);
            v_locked := true;
            CONTINUE WHEN to_regclass(format('%I.%I', v_schema, v_name)) IS NOT NULL;
        END IF;

        EXECUTE format(
            'CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
            v_schema, v_name, v_schema, v_table,
            to_char(v_start, 'YYYY-MM-DD') || ' 00:00:00+00',
            to_char((v_start + interval '1 month')::date, 'YYYY-MM-DD') || ' 00:00:00+00');
        v_created := v_created + 1;
    END LOOP;

    RETURN v_created;
END;
$$;

COMMENT ON FUNCTION audit.ensure_monthly_partitions(regclass, date, integer) IS
    'Creates the missing monthly partitions <table>_pYYYYMM (UTC months) of p_parent for the '
    'p_months months from the month of p_from; returns how many it created.';
