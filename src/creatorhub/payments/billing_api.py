"""Routes of recurring billing: /v1/plans and /v1/subscriptions.

Subscribing moves money, so it needs a verified e-mail address and an `Idempotency-Key`; a
retry with the same key answers with the first subscription and charge. Amounts are integers in
minor units: floats, strings and booleans are refused (422), as are unknown fields.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictBool, StrictInt, StringConstraints

from creatorhub.db import DbSession
from creatorhub.identity.deps import (
    CurrentPrincipal,
    Idempotency,
    OptionalIdempotency,
    VerifiedPrincipal,
    require_roles,
)
from creatorhub.identity.models import Role
from creatorhub.identity.schemas import Currency, RequestModel
from creatorhub.identity.service import Principal
from creatorhub.kit.clock import utcnow
from creatorhub.kit.errors import problem_responses
from creatorhub.kit.idempotency import IDEMPOTENCY_RESPONSES, OPTIONAL_IDEMPOTENCY_RESPONSES
from creatorhub.kit.state import AppSettings
from creatorhub.payments import billing
from creatorhub.payments.models import Plan, PlanInterval, Subscription

router = APIRouter(prefix="/v1", tags=["billing"], responses=problem_responses(401, 403, 422))

PlanOwner = Annotated[Principal, Depends(require_roles(Role.CREATOR, Role.BRAND))]
PlanName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=billing.MAX_PLAN_NAME_LENGTH),
]
Amount = Annotated[
    StrictInt,
    Field(gt=0, le=billing.MAX_PLAN_AMOUNT, description="Price per period, in minor units"),
]


# --- shapes ---------------------------------------------------------------------------------


class PlanIn(RequestModel):
    name: PlanName
    amount: Amount
    currency: Currency
    interval: PlanInterval


class PlanOut(BaseModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    amount: int
    currency: str
    interval: str
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, plan: Plan) -> PlanOut:
        return cls.model_validate(plan, from_attributes=True)


class SubscriptionOut(BaseModel):
    id: uuid.UUID
    plan_id: uuid.UUID
    subscriber_id: uuid.UUID
    status: str
    current_period_start: datetime
    current_period_end: datetime | None = Field(description="null for a lifetime plan")
    cancel_at_period_end: bool
    periods_paid: int
    past_due_since: datetime | None
    canceled_at: datetime | None
    created_at: datetime = Field(description="Start of the first period: the billing anchor")
    plan: PlanOut

    @classmethod
    def of(cls, subscription: Subscription, plan: Plan) -> SubscriptionOut:
        return cls(
            id=subscription.id,
            plan_id=subscription.plan_id,
            subscriber_id=subscription.subscriber_id,
            status=subscription.status,
            current_period_start=subscription.current_period_start,
            current_period_end=subscription.current_period_end,
            cancel_at_period_end=subscription.cancel_at_period_end,
            periods_paid=subscription.periods_paid,
            past_due_since=subscription.past_due_since,
            canceled_at=subscription.canceled_at,
            created_at=subscription.created_at,
            plan=PlanOut.of(plan),
        )


class ChargeOut(BaseModel):
    period: int
    gross: int = Field(description="What left the subscriber's wallet")
    fee: int = Field(description="The platform's fee")
    net: int = Field(description="What the plan's owner received")
    currency: str
    transfer_id: uuid.UUID


class SubscribeOut(BaseModel):
    subscription: SubscriptionOut
    charge: ChargeOut


class CancelIn(RequestModel):
    at_period_end: StrictBool = Field(
        default=True,
        description="true: stop renewing, access continues to the period end; "
        "false: cancel now. Nothing is refunded either way.",
    )


def _charge_out(charge: billing.Charge) -> ChargeOut:
    return ChargeOut(
        period=charge.period,
        gross=charge.gross,
        fee=charge.fee,
        net=charge.net,
        currency=charge.currency,
        transfer_id=charge.transfer_id,
    )


# --- plans ----------------------------------------------------------------------------------


@router.post(
    "/plans",
    status_code=status.HTTP_201_CREATED,
    response_model=PlanOut,
    responses=OPTIONAL_IDEMPOTENCY_RESPONSES,
    summary="Offer a recurring plan (creators and brands)",
)
async def create_plan(
    body: PlanIn, principal: PlanOwner, session: DbSession, idem: OptionalIdempotency
) -> JSONResponse:
    plan = await billing.create_plan(
        session, principal.id, body.name, body.amount, body.currency, body.interval
    )
    return await idem.respond(session, status.HTTP_201_CREATED, PlanOut.of(plan))


@router.get("/plans/{plan_id}", responses=problem_responses(404), summary="A plan")
async def get_plan(plan_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> PlanOut:
    return PlanOut.of(await billing.get_plan(session, plan_id))


@router.post(
    "/plans/{plan_id}/subscriptions",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscribeOut,
    responses={**IDEMPOTENCY_RESPONSES, **problem_responses(404, 409)},
    summary="Subscribe to a plan; the first period is charged from the caller's wallet at once",
)
async def subscribe(
    plan_id: uuid.UUID,
    principal: VerifiedPrincipal,
    session: DbSession,
    settings: AppSettings,
    idem: Idempotency,
) -> JSONResponse:
    # A refusal (409 insufficient_funds) is kept in system_logs by the app's payments handler.
    result = await billing.subscribe(session, settings, plan_id, principal.id, utcnow(), idem.key)
    body = SubscribeOut(
        subscription=SubscriptionOut.of(result.subscription, result.plan),
        charge=_charge_out(result.charge),
    )
    return await idem.respond(session, status.HTTP_201_CREATED, body)


# --- subscriptions --------------------------------------------------------------------------


@router.get("/subscriptions", summary="The caller's subscriptions, newest first")
async def list_subscriptions(
    principal: CurrentPrincipal,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> list[SubscriptionOut]:
    rows = await billing.list_subscriptions(session, principal.id, limit=limit, offset=offset)
    return [SubscriptionOut.of(subscription, plan) for subscription, plan in rows]


@router.post(
    "/subscriptions/{subscription_id}/cancel",
    responses=problem_responses(404, 409),
    summary="Cancel a subscription at its period end (default) or now; no refund",
)
async def cancel_subscription(
    subscription_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    body: Annotated[CancelIn | None, Body()] = None,
) -> SubscriptionOut:
    at_period_end = body.at_period_end if body is not None else True
    subscription = await billing.cancel(
        session, subscription_id, principal.id, at_period_end, now=utcnow()
    )
    plan = await billing.get_plan(session, subscription.plan_id)
    return SubscriptionOut.of(subscription, plan)
