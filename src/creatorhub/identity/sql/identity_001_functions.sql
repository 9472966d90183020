-- identity: PL/pgSQL loaded by revision 0001_identity.
-- Never edit this file once released: a change goes into a new, higher-numbered file loaded by a
-- new revision, so that replaying 0001 always builds the same database.

-- updated_at is kept by the database, not by each service: a bulk UPDATE or a fix run by hand in
-- psql moves it as well, so "what changed since" queries can trust it.
CREATE FUNCTION identity.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION identity.touch_updated_at() IS
    'BEFORE UPDATE row trigger: sets updated_at to the time of the updating transaction.';
