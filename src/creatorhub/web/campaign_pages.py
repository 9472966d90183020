"""Pages of the campaigns (issue 14): being written; the router is wired into the app already."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
