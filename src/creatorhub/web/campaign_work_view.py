"""What the pages of consultant and seller work show: the read's documents as the API's models
(typed dates for the templates) and the words for their statuses. Shared by the brand's
campaign page (`campaign_pages`) and the work pages, which import it (not each other)."""

from __future__ import annotations

from typing import Any

from creatorhub.campaigns.work.schemas import ApplicationOut
from creatorhub.web.acting import money

DELIVERABLE_LABELS = {
    "proposed": "Proposed: waiting for the promoter",
    "agreed": "Agreed: held, waiting for the work",
    "submitted": "Submitted: waiting for review",
    "changes_requested": "Changes requested",
    "disputed": "Disputed: an administrator decides",
    "approved": "Approved and paid",
    "cancelled": "Cancelled",
}
APPLICATION_LABELS = {
    "pending": "Negotiating",
    "accepted": "Accepted",
    "rejected": "Rejected",
    "withdrawn": "Withdrawn",
}
WORK_LABELS = {
    "submitted": "waiting for review",
    "approved": "approved",
    "changes_requested": "changes requested",
    "superseded": "closed by the dispute's decision",
}


def presented(body: dict[str, Any]) -> ApplicationOut:
    """A read's document as the API's model: typed dates and amounts for the templates."""
    return ApplicationOut.model_validate(body)


def words(**context: Any) -> dict[str, Any]:
    """The statuses' words every work template reads, with `context`."""
    return {
        "money": money,
        "application_labels": APPLICATION_LABELS,
        "deliverable_labels": DELIVERABLE_LABELS,
        "work_labels": WORK_LABELS,
        **context,
    }
