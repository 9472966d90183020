"""The creator's studio pages (issue 13): the workspace of seed 001 in the web app.

The pages live in modules of their own: `studio_portfolio` (the portfolio editor with its live
preview), `studio_shoots` (shoots and planned uploads), `studio_calendar` (a month with its
blocked dates) and `studio_reviews` (review links and the reviews received); `studio_base`
holds what they share. This router gathers their routes, so the app wires one router.
"""

from __future__ import annotations

from fastapi import APIRouter

from creatorhub.web import studio_calendar, studio_portfolio, studio_reviews, studio_shoots

router = APIRouter(include_in_schema=False)
for part in (studio_portfolio, studio_shoots, studio_calendar, studio_reviews):
    router.include_router(part.router)
