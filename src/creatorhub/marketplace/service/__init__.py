"""Marketplace workflows: create and fund a job, claim a slot, submit, approve or reject, close.

Money (seed 000's "not actually an escrow"):
* A job's budget sits in its own ledger escrow account, paid in from the brand's available
  wallet or by a provider charge confirmed by webhook. The job opens only then.
* A claim reserves the slot's share as a ledger hold, escrow → the creator's wallet. Shares of an
  uneven budget differ by one cent at most: slot n gets budget // slots, plus one cent while
  n <= budget % slots, so they always sum to the budget.
* Approval posts the hold through `payments.earnings.pay_earnings` (the platform fee for
  `escrow_release` goes to the fee accounts in the same ledger call).
* Closing voids every hold not posted and refunds what the escrow still holds: the unapproved
  slots' shares (`unfilled_refunds`, created by the seed's trigger) go back where the money came
  from, the brand's wallet at once or the provider's charge through a job.

Concurrency: every operation on a job locks its `jobs` row first (then the influencer job, then
the ledger accounts inside the ledger's own functions), so claims, approvals and closing of one job
are serialized in one order and cannot deadlock; the database's constraints and triggers (slot
numbers unique per job, claim_count within max_slots, closed rows immutable) hold even if a check
here were wrong.
"""

from creatorhub.marketplace.service.closing import (
    Closing,
    close_by_brand,
    close_ended_job,
    close_job,
    ended_job_uids,
    issue_provider_refund,
)
from creatorhub.marketplace.service.jobs import (
    FUND_JOB_ANSWER,
    RELEASE_KIND,
    JobDraft,
    brand_job_view,
    create_job,
    fund_from_wallet,
    fund_job_answer,
    fund_through_provider,
    funding_credited,
    get_brand_job,
    get_job,
    is_published,
    resolve_funding_target,
    slot_share,
)
from creatorhub.marketplace.service.slots import (
    ContentDraft,
    approve,
    claim_slot,
    claim_view,
    mark_payouts_paid,
    reject,
    submit_content,
)
from creatorhub.payments.funding import register_answer, register_target
from creatorhub.payments.payouts import on_payout_paid

__all__ = [
    "FUND_JOB_ANSWER",
    "RELEASE_KIND",
    "Closing",
    "ContentDraft",
    "JobDraft",
    "approve",
    "brand_job_view",
    "claim_slot",
    "claim_view",
    "close_by_brand",
    "close_ended_job",
    "close_job",
    "create_job",
    "ended_job_uids",
    "fund_from_wallet",
    "fund_through_provider",
    "funding_credited",
    "get_brand_job",
    "get_job",
    "is_published",
    "issue_provider_refund",
    "mark_payouts_paid",
    "reject",
    "resolve_funding_target",
    "slot_share",
    "submit_content",
]

# Registered on import: this package is imported by both the API and the worker's task modules.
register_target("job", resolve_funding_target, funding_credited)
register_answer(FUND_JOB_ANSWER, fund_job_answer)
on_payout_paid(mark_payouts_paid)
