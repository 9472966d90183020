"""What the salesman campaign pages read besides `service.campaign_sales`: the totals of a
campaign's (or one promoter's) sales by status, a promoter's sales in one campaign, and their
coupon code. Reads only; the sales' writes are `service`'s."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.campaigns.sales.models import CouponCode, SalesRecord, SaleStatus


@dataclass(frozen=True)
class SalesTotals:
    """Counts and commissions (minor units) by status; `fees` on the verified ones."""

    counts: dict[str, int]
    commissions: dict[str, int]
    fees: int

    @property
    def sales(self) -> int:
        return sum(self.counts.values())

    def count(self, status: SaleStatus) -> int:
        return self.counts.get(status.value, 0)

    def commission(self, status: SaleStatus) -> int:
        return self.commissions.get(status.value, 0)


async def sales_totals(
    session: AsyncSession, campaign_id: uuid.UUID, *, promoter_id: uuid.UUID | None = None
) -> SalesTotals:
    """The campaign's sales by status (only `promoter_id`'s when given): one statement."""
    query = (
        select(
            SalesRecord.status,
            func.count(),
            func.coalesce(func.sum(SalesRecord.commission), 0),
            func.coalesce(func.sum(SalesRecord.fee), 0),
        )
        .where(SalesRecord.campaign_id == campaign_id)
        .group_by(SalesRecord.status)
    )
    if promoter_id is not None:
        query = query.where(SalesRecord.promoter_id == promoter_id)
    counts: dict[str, int] = {}
    commissions: dict[str, int] = {}
    fees = 0
    for status, count, commission, fee in (await session.execute(query)).all():
        counts[status] = int(count)
        commissions[status] = int(commission or 0)
        fees += int(fee or 0)
    return SalesTotals(counts, commissions, fees)


async def promoter_campaign_sales(
    session: AsyncSession, campaign_id: uuid.UUID, promoter_id: uuid.UUID, *, limit: int
) -> list[SalesRecord]:
    """The promoter's sales in one campaign, newest first."""
    return list(
        await session.scalars(
            select(SalesRecord)
            .where(SalesRecord.campaign_id == campaign_id, SalesRecord.promoter_id == promoter_id)
            .order_by(SalesRecord.occurred_at.desc(), SalesRecord.id.desc())
            .limit(limit)
        )
    )


async def coupon_of(session: AsyncSession, promoter_campaign_id: uuid.UUID) -> str | None:
    """The participation's coupon code, if they set one."""
    code: str | None = await session.scalar(
        select(CouponCode.code).where(CouponCode.promoter_campaign_id == promoter_campaign_id)
    )
    return code
