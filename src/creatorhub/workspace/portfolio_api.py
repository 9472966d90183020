"""The public portfolio as JSON: what `/portfolio/{slug}` shows, for other front ends."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from creatorhub.db import DbSession
from creatorhub.kit.errors import problem_responses
from creatorhub.workspace.portfolio import get_portfolio
from creatorhub.workspace.reviews_schemas import PortfolioOut

router = APIRouter(prefix="/v1/portfolio", tags=["portfolio"])

Slug = Annotated[
    str, Path(max_length=50, pattern=r"^[A-Za-z0-9-]+$", description="The profile address")
]


@router.get(
    "/{slug}",
    summary="A creator's public portfolio (no sign-in needed)",
    responses=problem_responses(404, 422),
)
async def portfolio(slug: Slug, session: DbSession) -> PortfolioOut:
    """Profile, connected platforms with follower counts, published reviews with the average
    rating, and how to get in touch. Never the client's or the creator's private details."""
    return await get_portfolio(session, slug)
