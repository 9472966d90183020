"""Seed 002's advertiser and promoter details.

An advertiser's company, website and business categories are the brand profile's
(`identity.brand_profiles`, the seed's `advertiser_type_mappings` as its categories array);
`advertiser_details` adds the platform's verification of the advertiser: `unverified` until
the details are first given, then `pending` until an administrator sets `verified` or
`rejected`; a verified advertiser who changes the company name is `pending` again.

A promoter's languages, skills and categories (the seed's `promoter_languages`,
`promoter_skills`) and follower counts (`follower_estimates`) are the creator profile's;
`promoter_details` adds the demographics.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from creatorhub.audit.service import record_change, snapshot
from creatorhub.campaigns.models import AdvertiserDetails, PromoterDetails
from creatorhub.campaigns.schemas import (
    AdvertiserDetailsIn,
    AdvertiserDetailsOut,
    PromoterDetailsIn,
    PromoterDetailsOut,
)
from creatorhub.identity.models import BrandProfile, CreatorProfile, Role, User
from creatorhub.identity.service import follower_estimates_of
from creatorhub.kit.errors import NotFound


def _advertiser_out(
    user_id: uuid.UUID, profile: BrandProfile | None, details: AdvertiserDetails | None
) -> AdvertiserDetailsOut:
    return AdvertiserDetailsOut(
        user_id=user_id,
        company_name=profile.company_name if profile else None,
        website=profile.website if profile else None,
        business_categories=list(profile.business_categories) if profile else [],
        verification_status=details.verification_status if details else "unverified",
        verified_at=details.verified_at if details else None,
    )


async def advertiser_details(session: AsyncSession, user_id: uuid.UUID) -> AdvertiserDetailsOut:
    row = (
        await session.execute(
            select(BrandProfile, AdvertiserDetails)
            .select_from(BrandProfile)
            .outerjoin(AdvertiserDetails, AdvertiserDetails.user_id == BrandProfile.user_id)
            .where(BrandProfile.user_id == user_id)
        )
    ).one_or_none()
    if row is None:
        details = await session.get(AdvertiserDetails, user_id)
        return _advertiser_out(user_id, None, details)
    return _advertiser_out(user_id, row[0], row[1])


async def put_advertiser_details(
    session: AsyncSession, user_id: uuid.UUID, data: AdvertiserDetailsIn, now: datetime
) -> AdvertiserDetailsOut:
    profile = await session.get(BrandProfile, user_id, with_for_update=True)
    details = await session.get(AdvertiserDetails, user_id, with_for_update=True)
    before: dict[str, Any] = {
        "profile": snapshot(profile) if profile else None,
        "details": snapshot(details) if details else None,
    }
    renamed = profile is not None and profile.company_name != data.company_name
    if profile is None:
        profile = BrandProfile(user_id=user_id)
        session.add(profile)
    profile.company_name = data.company_name
    profile.website = data.website
    profile.business_categories = list(data.business_categories)
    if details is None:
        details = AdvertiserDetails(user_id=user_id, verification_status="pending")
        session.add(details)
    elif details.verification_status in ("unverified", "rejected") or (
        details.verification_status == "verified" and renamed
    ):
        details.verification_status = "pending"
        details.verified_at = None
        details.verified_by = None
    details.updated_at = now
    await session.flush()
    await session.refresh(profile)
    await session.refresh(details)
    await record_change(
        session,
        action="campaigns.advertiser_details.update",
        entity_type="advertiser_details",
        entity_id=user_id,
        actor_id=user_id,
        before=before,
        after={"profile": snapshot(profile), "details": snapshot(details)},
    )
    return _advertiser_out(user_id, profile, details)


async def set_verification(
    session: AsyncSession, *, user_id: uuid.UUID, status: str, admin_id: uuid.UUID, now: datetime
) -> AdvertiserDetailsOut:
    """An administrator verifies or rejects an advertiser (a user with the brand role; 404
    `advertiser_not_found` otherwise)."""
    is_brand = await session.scalar(
        select(User.id).where(User.id == user_id, User.roles.contains([Role.BRAND.value]))
    )
    if is_brand is None:
        raise NotFound("no such advertiser", code="advertiser_not_found")
    details = await session.get(AdvertiserDetails, user_id, with_for_update=True)
    before = snapshot(details) if details else None
    if details is None:
        details = AdvertiserDetails(user_id=user_id)
        session.add(details)
    details.verification_status = status
    details.verified_at = now if status == "verified" else None
    details.verified_by = admin_id
    details.updated_at = now
    await session.flush()
    await session.refresh(details)
    await record_change(
        session,
        action=f"campaigns.advertiser.{status}",
        entity_type="advertiser_details",
        entity_id=user_id,
        actor_id=admin_id,
        before=before,
        after=snapshot(details),
    )
    return await advertiser_details(session, user_id)


def _promoter_out(
    user_id: uuid.UUID,
    details: PromoterDetails | None,
    profile: CreatorProfile | None,
    estimates: dict[str, int] | None,
) -> PromoterDetailsOut:
    followers = {key: int(value) for key, value in (estimates or {}).items()}
    return PromoterDetailsOut(
        user_id=user_id,
        country=details.country if details else None,
        city=details.city if details else None,
        birth_year=details.birth_year if details else None,
        gender=details.gender if details else None,
        audience_countries=list(details.audience_countries) if details else [],
        categories=list(profile.categories) if profile else [],
        languages=list(profile.languages) if profile else [],
        skills=list(profile.skills) if profile else [],
        follower_estimates=followers,
        follower_total=sum(followers.values()),
    )


async def promoter_details(session: AsyncSession, user_id: uuid.UUID) -> PromoterDetailsOut:
    """The demographics with the creator profile's matching fields: one statement."""
    row = (
        await session.execute(
            select(PromoterDetails, CreatorProfile, follower_estimates_of(User.id.expression))
            .select_from(User)
            .outerjoin(PromoterDetails, PromoterDetails.user_id == User.id)
            .outerjoin(CreatorProfile, CreatorProfile.user_id == User.id)
            .where(User.id == user_id)
        )
    ).one()
    return _promoter_out(user_id, row[0], row[1], row[2])


async def put_promoter_details(
    session: AsyncSession, user_id: uuid.UUID, data: PromoterDetailsIn, now: datetime
) -> PromoterDetailsOut:
    details = await session.get(PromoterDetails, user_id, with_for_update=True)
    before = snapshot(details) if details else None
    if details is None:
        details = PromoterDetails(user_id=user_id)
        session.add(details)
    for key, value in data.model_dump().items():
        setattr(details, key, value)
    details.updated_at = now
    await session.flush()
    await session.refresh(details)
    await record_change(
        session,
        action="campaigns.promoter_details.update",
        entity_type="promoter_details",
        entity_id=user_id,
        actor_id=user_id,
        before=before,
        after=snapshot(details),
    )
    return await promoter_details(session, user_id)
