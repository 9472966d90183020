-- marketplace: seed 000's triggers, loaded by revision 0008_marketplace.
-- Never edit this file once released: a change goes into a new, higher-numbered file loaded by a
-- new revision.
--
-- Trigger and function names are the seed's. Triggers keep counters, write the seed's logs and
-- events, and refuse changes to closed or resolved records; workflows (who may claim, approve,
-- close) are decided in Python (creatorhub.marketplace.service). Money never moves here: the
-- ledger moves it, these rows record it.
--
-- A refused change raises its own SQLSTATE (class CM, "creatorhub marketplace") with the seed's
-- system_logs record as JSON in DETAIL. The refused statement's transaction rolls back, and with
-- it anything it wrote, so the caller writes that record to audit.system_logs in a transaction
-- of its own (PostgreSQL has no autonomous transactions without an extension):
--   CM001 record closed (job or influencer job)   CM002 escrow already released or refunded
--   CM003 refund already issued                   CM004 influencers_done above max_slots
--   CM005 claims are permanent

-- --- guards -------------------------------------------------------------------------------

CREATE FUNCTION marketplace.refusal(p_table text, p_action text, p_message text,
                                    p_uid uuid, p_old jsonb, p_new jsonb)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'table', 'marketplace.' || p_table,
        'action', p_action,
        'message', p_message,
        'uid', p_uid,
        'attempted_at', now(),
        'old_data', p_old,
        'attempted_data', p_new
    )::text
$$;

CREATE FUNCTION marketplace.prevent_modifications_after_closed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.closed_at IS NOT NULL THEN
        RAISE EXCEPTION '% % is closed: it can no longer change', TG_TABLE_NAME, OLD.uid
            USING ERRCODE = 'CM001',
                  DETAIL = marketplace.refusal(TG_TABLE_NAME, 'prevent_modifications_after_closed',
                      'Attempted update after closed prevented', OLD.uid, to_jsonb(OLD),
                      to_jsonb(NEW));
    END IF;
    RETURN NEW;
END;
$$;

CREATE FUNCTION marketplace.prevent_delete_after_closed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.closed_at IS NOT NULL THEN
        RAISE EXCEPTION '% % is closed: it cannot be deleted', TG_TABLE_NAME, OLD.uid
            USING ERRCODE = 'CM001',
                  DETAIL = marketplace.refusal(TG_TABLE_NAME, 'prevent_delete_after_closed',
                      'Attempted delete after closed prevented', OLD.uid, to_jsonb(OLD), NULL);
    END IF;
    RETURN OLD;
END;
$$;

CREATE FUNCTION marketplace.prevent_modifications_after_released() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'held' THEN
        RAISE EXCEPTION 'escrow % is %: it can no longer change', OLD.escrow_uid, OLD.status
            USING ERRCODE = 'CM002',
                  DETAIL = marketplace.refusal(TG_TABLE_NAME,
                      'prevent_modifications_after_released',
                      'Attempted ' || lower(TG_OP) || ' after release prevented',
                      OLD.escrow_uid, to_jsonb(OLD),
                      CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(NEW) END);
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;

CREATE FUNCTION marketplace.prevent_modifications_after_refund_issued() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.issued_at IS NOT NULL THEN
        RAISE EXCEPTION 'refund % was issued: it can no longer change', OLD.uid
            USING ERRCODE = 'CM003',
                  DETAIL = marketplace.refusal(TG_TABLE_NAME,
                      'prevent_modifications_after_refund_issued',
                      'Attempted ' || lower(TG_OP) || ' after refund issued prevented',
                      OLD.uid, to_jsonb(OLD),
                      CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(NEW) END);
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;

-- Rows of a job (slots, submissions) cannot be added once it is closed.
CREATE FUNCTION marketplace.prevent_insert_after_closed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_closed_at timestamptz;
BEGIN
    SELECT closed_at INTO v_closed_at FROM marketplace.jobs WHERE uid = NEW.job_uid;
    IF v_closed_at IS NOT NULL THEN
        RAISE EXCEPTION 'job % is closed: nothing can be added to it', NEW.job_uid
            USING ERRCODE = 'CM001',
                  DETAIL = marketplace.refusal(TG_TABLE_NAME, 'prevent_modifications_after_closed',
                      'Attempted insert into a closed job prevented', NEW.job_uid, NULL,
                      to_jsonb(NEW));
    END IF;
    RETURN NEW;
END;
$$;

-- An approved slot has been paid: its approval, amount and fee are final (the payout record and
-- the ledger posting depend on them).
CREATE FUNCTION marketplace.prevent_unapproving() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.content_approved_at IS NOT NULL
       AND (NEW.content_approved_at IS DISTINCT FROM OLD.content_approved_at
            OR NEW.content_done_at IS DISTINCT FROM OLD.content_done_at
            OR NEW.platform_fee IS DISTINCT FROM OLD.platform_fee
            OR NEW.amount IS DISTINCT FROM OLD.amount
            OR NEW.hold_id IS DISTINCT FROM OLD.hold_id) THEN
        RAISE EXCEPTION 'influencer job % was approved and paid: it can no longer change', OLD.uid
            USING ERRCODE = 'CM002',
                  DETAIL = marketplace.refusal(TG_TABLE_NAME,
                      'prevent_modifications_after_released',
                      'Attempted update after release prevented', OLD.uid, to_jsonb(OLD),
                      to_jsonb(NEW));
    END IF;
    RETURN NEW;
END;
$$;

-- A claim is the record of who took which slot: it is never edited or deleted (closing the job
-- releases the slot's money, not the record).
CREATE FUNCTION marketplace.prevent_claim_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'claim % is permanent', OLD.id
        USING ERRCODE = 'CM005',
              DETAIL = marketplace.refusal(TG_TABLE_NAME, 'prevent_claim_changes',
                  'Attempted ' || lower(TG_OP) || ' of a claim prevented', OLD.id, to_jsonb(OLD),
                  CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(NEW) END);
END;
$$;

CREATE TRIGGER trg_prevent_insert_after_closed
    BEFORE INSERT ON marketplace.influencer_jobs
    FOR EACH ROW EXECUTE FUNCTION marketplace.prevent_insert_after_closed();
CREATE TRIGGER trg_prevent_insert_after_closed
    BEFORE INSERT ON marketplace.content_submissions
    FOR EACH ROW EXECUTE FUNCTION marketplace.prevent_insert_after_closed();
CREATE TRIGGER trg_approval_is_final
    BEFORE UPDATE ON marketplace.influencer_jobs
    FOR EACH ROW EXECUTE FUNCTION marketplace.prevent_unapproving();
CREATE TRIGGER trg_claims_are_permanent
    BEFORE UPDATE OR DELETE ON marketplace.claims
    FOR EACH ROW EXECUTE FUNCTION marketplace.prevent_claim_changes();

CREATE TRIGGER trg_prevent_updates_after_closed
    BEFORE UPDATE ON marketplace.jobs
    FOR EACH ROW EXECUTE FUNCTION marketplace.prevent_modifications_after_closed();
CREATE TRIGGER trg_prevent_delete_after_closed
    BEFORE DELETE ON marketplace.jobs
    FOR EACH ROW EXECUTE FUNCTION marketplace.prevent_delete_after_closed();
CREATE TRIGGER trg_prevent_updates_after_closed
    BEFORE UPDATE ON marketplace.influencer_jobs
    FOR EACH ROW EXECUTE FUNCTION marketplace.prevent_modifications_after_closed();
CREATE TRIGGER trg_prevent_delete_after_closed
    BEFORE DELETE ON marketplace.influencer_jobs
    FOR EACH ROW EXECUTE FUNCTION marketplace.prevent_delete_after_closed();
CREATE TRIGGER trg_prevent_modifications_after_released
    BEFORE UPDATE OR DELETE ON marketplace.escrow_transactions
    FOR EACH ROW EXECUTE FUNCTION marketplace.prevent_modifications_after_released();
CREATE TRIGGER prevent_modifications_after_refund_issued
    BEFORE UPDATE OR DELETE ON marketplace.unfilled_refunds
    FOR EACH ROW EXECUTE FUNCTION marketplace.prevent_modifications_after_refund_issued();

-- --- jobs: slots, counters, content readiness ----------------------------------------------

CREATE FUNCTION marketplace.set_max_slots() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.max_slots := NEW.influencer_slots;
    RETURN NEW;
END;
$$;

CREATE TRIGGER jobs_set_max_slots
    BEFORE INSERT OR UPDATE OF influencer_slots ON marketplace.jobs
    FOR EACH ROW EXECUTE FUNCTION marketplace.set_max_slots();

-- More creators marked done than the job has slots: refused and logged (the seed logs it).
CREATE FUNCTION marketplace.log_influencers_done_limit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.influencers_done > NEW.max_slots THEN
        RAISE EXCEPTION 'job % would have % creators done for % slots',
                        NEW.uid, NEW.influencers_done, NEW.max_slots
            USING ERRCODE = 'CM004',
                  DETAIL = marketplace.refusal('jobs', 'log_influencers_done_limit',
                      'influencers_done above max_slots prevented', NEW.uid,
                      jsonb_build_object('influencers_done', OLD.influencers_done,
                                         'max_slots', OLD.max_slots),
                      jsonb_build_object('influencers_done', NEW.influencers_done));
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_check_influencers_done
    BEFORE UPDATE OF influencers_done ON marketplace.jobs
    FOR EACH ROW EXECUTE FUNCTION marketplace.log_influencers_done_limit();

-- all_content_ready: every slot is claimed and every claimed slot's content is done. Both run
-- after jobs_set_max_slots (BEFORE triggers fire in name order), so a slot change counts.
CREATE FUNCTION marketplace.update_all_content_ready() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.influencers_done = NEW.max_slots AND NOT NEW.all_content_ready THEN
        NEW.all_content_ready := true;
    END IF;
    RETURN NEW;
END;
$$;

CREATE FUNCTION marketplace.reset_all_content_ready() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.influencers_done < NEW.max_slots AND NEW.all_content_ready THEN
        NEW.all_content_ready := false;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_reset_all_content_ready
    BEFORE UPDATE OF influencers_done, influencer_slots, max_slots ON marketplace.jobs
    FOR EACH ROW EXECUTE FUNCTION marketplace.reset_all_content_ready();
CREATE TRIGGER trg_set_all_content_ready
    BEFORE UPDATE OF influencers_done, influencer_slots, max_slots ON marketplace.jobs
    FOR EACH ROW EXECUTE FUNCTION marketplace.update_all_content_ready();

-- claim_count follows the claims table, and claim n takes slot n: with slot numbers unique per
-- job and claim_count <= max_slots (CHECK), no job ever has more claims than slots.
CREATE FUNCTION marketplace.count_claim() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    UPDATE marketplace.jobs SET claim_count = claim_count + 1 WHERE uid = NEW.job_id
    RETURNING claim_count INTO v_count;
    IF v_count IS DISTINCT FROM NEW.slot_number THEN
        RAISE EXCEPTION 'claim % takes slot % but is claim number % of job %',
                        NEW.id, NEW.slot_number, v_count, NEW.job_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_count_claims
    AFTER INSERT ON marketplace.claims
    FOR EACH ROW EXECUTE FUNCTION marketplace.count_claim();

-- influencers_done and approved follow the influencer jobs' content_done_at / content_approved_at.
CREATE FUNCTION marketplace.count_influencer_job_progress() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_done_delta integer := 0;
    v_approved_delta integer := 0;
BEGIN
    IF (OLD.content_done_at IS NULL) <> (NEW.content_done_at IS NULL) THEN
        v_done_delta := CASE WHEN NEW.content_done_at IS NULL THEN -1 ELSE 1 END;
    END IF;
    IF (OLD.content_approved_at IS NULL) <> (NEW.content_approved_at IS NULL) THEN
        v_approved_delta := CASE WHEN NEW.content_approved_at IS NULL THEN -1 ELSE 1 END;
    END IF;
    IF v_done_delta <> 0 OR v_approved_delta <> 0 THEN
        UPDATE marketplace.jobs
           SET influencers_done = influencers_done + v_done_delta,
               approved = approved + v_approved_delta
         WHERE uid = NEW.job_uid;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_influencer_jobs_progress
    AFTER UPDATE OF content_done_at, content_approved_at ON marketplace.influencer_jobs
    FOR EACH ROW EXECUTE FUNCTION marketplace.count_influencer_job_progress();

-- --- closing a job --------------------------------------------------------------------------

CREATE FUNCTION marketplace.set_job_status_closed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.closed_at IS NOT NULL AND OLD.closed_at IS NULL THEN
        NEW.status := 'closed';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER update_status_on_close
    BEFORE UPDATE OF closed_at ON marketplace.jobs
    FOR EACH ROW EXECUTE FUNCTION marketplace.set_job_status_closed();

CREATE FUNCTION marketplace.jobs_closed_at_logging() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO marketplace.joblogs (job_uid, description, log)
    VALUES (NEW.uid, 'job closed', jsonb_build_object(
        'closed_at', NEW.closed_at,
        'close_reason', NEW.close_reason,
        'budget', NEW.budget,
        'currency', NEW.currency,
        'max_slots', NEW.max_slots,
        'claim_count', NEW.claim_count,
        'influencers_done', NEW.influencers_done,
        'approved', NEW.approved,
        'funded', NEW.funded_at IS NOT NULL));
    RETURN NEW;
END;
$$;

CREATE TRIGGER jobs_closed_at_logging
    AFTER UPDATE OF closed_at ON marketplace.jobs
    FOR EACH ROW WHEN (OLD.closed_at IS NULL AND NEW.closed_at IS NOT NULL)
    EXECUTE FUNCTION marketplace.jobs_closed_at_logging();

CREATE FUNCTION marketplace.close_related_influencer_jobs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE marketplace.influencer_jobs
       SET closed_at = NEW.closed_at
     WHERE job_uid = NEW.uid AND closed_at IS NULL;
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_close_influencer_jobs
    AFTER UPDATE OF closed_at ON marketplace.jobs
    FOR EACH ROW WHEN (OLD.closed_at IS NULL AND NEW.closed_at IS NOT NULL)
    EXECUTE FUNCTION marketplace.close_related_influencer_jobs();

-- The seed's refund is (budget / max_slots) * (max_slots - approved), which loses the odd cents
-- of an uneven split; here it is the budget less the approved slots' exact shares, which is the
-- sum of the unapproved slots' shares to the cent.
CREATE FUNCTION marketplace.trg_create_unfilled_refund() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_released bigint;
BEGIN
    IF NEW.funded_at IS NULL OR NEW.approved >= NEW.max_slots THEN
        RETURN NEW;  -- nothing was paid in, or every slot was paid out
    END IF;
    SELECT coalesce(sum(amount), 0) INTO v_released
      FROM marketplace.influencer_jobs
     WHERE job_uid = NEW.uid AND content_approved_at IS NOT NULL;
    INSERT INTO marketplace.unfilled_refunds
        (user_uid, job_uid, max_slots, claimed_slots, budget, refunded, currency,
         stripe_charge_id)
    VALUES (NEW.creator_uid, NEW.uid, NEW.max_slots, NEW.claim_count, NEW.budget,
            NEW.budget - v_released, NEW.currency, NEW.stripe_charge_id);
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_create_unfilled_refund
    AFTER UPDATE OF closed_at ON marketplace.jobs
    FOR EACH ROW WHEN (OLD.closed_at IS NULL AND NEW.closed_at IS NOT NULL)
    EXECUTE FUNCTION marketplace.trg_create_unfilled_refund();

CREATE FUNCTION marketplace.log_unapproved_closure() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO marketplace.influencer_logs (user_uid, job_uid, description, log)
    VALUES (NEW.user_uid, NEW.job_uid, 'content done but not approved when the job closed',
            jsonb_build_object(
                'influencer_job_uid', NEW.uid,
                'closed_at', NEW.closed_at,
                'content_done_at', NEW.content_done_at,
                'amount', NEW.amount,
                'currency', NEW.currency));
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_log_unapproved_closure
    AFTER UPDATE OF closed_at ON marketplace.influencer_jobs
    FOR EACH ROW WHEN (OLD.closed_at IS NULL AND NEW.closed_at IS NOT NULL
                       AND NEW.content_done_at IS NOT NULL AND NEW.content_approved_at IS NULL)
    EXECUTE FUNCTION marketplace.log_unapproved_closure();

-- --- escrow records and events --------------------------------------------------------------

CREATE FUNCTION marketplace.create_escrow_on_claim() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO marketplace.escrow_transactions
        (job_uid, influencer_job_uid, buyer_uid, seller_uid, payment_amount, currency, hold_id,
         payment_time)
    SELECT NEW.job_uid, NEW.uid, j.creator_uid, NEW.user_uid, NEW.amount, NEW.currency,
           NEW.hold_id, NEW.assigned_at
      FROM marketplace.jobs j
     WHERE j.uid = NEW.job_uid;
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_create_escrow_on_claim
    AFTER INSERT ON marketplace.influencer_jobs
    FOR EACH ROW EXECUTE FUNCTION marketplace.create_escrow_on_claim();

CREATE FUNCTION marketplace.log_escrow_claimed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO marketplace.escrow_events (escrow_uid, job_uid, event_type, event_details)
    VALUES (NEW.escrow_uid, NEW.job_uid, 'claimed', jsonb_build_object(
        'influencer_job_uid', NEW.influencer_job_uid,
        'seller_uid', NEW.seller_uid,
        'amount', NEW.payment_amount,
        'currency', NEW.currency,
        'hold_id', NEW.hold_id));
    RETURN NEW;
END;
$$;

CREATE TRIGGER escrow_claim_trigger
    AFTER INSERT ON marketplace.escrow_transactions
    FOR EACH ROW EXECUTE FUNCTION marketplace.log_escrow_claimed();

-- 'released' when a hold is posted to the creator, 'voided' when it goes back to the job.
CREATE FUNCTION marketplace.log_escrow_resolved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO marketplace.escrow_events (escrow_uid, job_uid, event_type, event_details)
    VALUES (NEW.escrow_uid, NEW.job_uid,
            CASE NEW.status WHEN 'released' THEN 'released' ELSE 'voided' END,
            jsonb_build_object(
                'influencer_job_uid', NEW.influencer_job_uid,
                'seller_uid', NEW.seller_uid,
                'amount', NEW.payment_amount,
                'currency', NEW.currency,
                'at', NEW.escrow_released_time));
    RETURN NEW;
END;
$$;

CREATE TRIGGER escrow_released_trigger
    AFTER UPDATE OF status ON marketplace.escrow_transactions
    FOR EACH ROW WHEN (OLD.status = 'held' AND NEW.status <> 'held')
    EXECUTE FUNCTION marketplace.log_escrow_resolved();

-- Approval creates the creator's payout record (gross, fee, net) ...
CREATE FUNCTION marketplace.create_influencer_payout() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO marketplace.influencer_payouts
        (user_uid, job_uid, influencer_job_uid, amount, platform_fee, net_amount, currency, genre,
         issued_at)
    SELECT NEW.user_uid, NEW.job_uid, NEW.uid, NEW.amount, NEW.platform_fee,
           NEW.amount - NEW.platform_fee, NEW.currency, j.genre, NEW.content_approved_at
      FROM marketplace.jobs j
     WHERE j.uid = NEW.job_uid;
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_create_influencer_payout
    AFTER UPDATE OF content_approved_at ON marketplace.influencer_jobs
    FOR EACH ROW WHEN (OLD.content_approved_at IS NULL AND NEW.content_approved_at IS NOT NULL)
    EXECUTE FUNCTION marketplace.create_influencer_payout();

-- ... and that record's creation is the seed's 'influencer_paid' event.
CREATE FUNCTION marketplace.log_influencer_paid() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO marketplace.escrow_events (escrow_uid, job_uid, event_type, event_details)
    SELECT e.escrow_uid, NEW.job_uid, 'influencer_paid', jsonb_build_object(
               'influencer_payout_uid', NEW.uid,
               'user_uid', NEW.user_uid,
               'gross', NEW.amount,
               'platform_fee', NEW.platform_fee,
               'net', NEW.net_amount,
               'currency', NEW.currency)
      FROM marketplace.escrow_transactions e
     WHERE e.influencer_job_uid = NEW.influencer_job_uid;
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_influencer_payout
    AFTER INSERT ON marketplace.influencer_payouts
    FOR EACH ROW EXECUTE FUNCTION marketplace.log_influencer_paid();

-- --- refunds --------------------------------------------------------------------------------

CREATE FUNCTION marketplace.log_refund_to_escrow_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO marketplace.escrow_events (job_uid, event_type, event_details)
    VALUES (NEW.job_uid, 'refund', jsonb_build_object(
        'unfilled_refund_uid', NEW.uid,
        'user_uid', NEW.user_uid,
        'refunded', NEW.refunded,
        'currency', NEW.currency,
        'stripe_charge_id', NEW.stripe_charge_id,
        'provider_refund_id', NEW.provider_refund_id,
        'issued_at', NEW.issued_at));
    RETURN NEW;
END;
$$;

CREATE TRIGGER log_refund_to_escrow_events
    AFTER UPDATE OF issued_at ON marketplace.unfilled_refunds
    FOR EACH ROW WHEN (OLD.issued_at IS NULL AND NEW.issued_at IS NOT NULL)
    EXECUTE FUNCTION marketplace.log_refund_to_escrow_events();
