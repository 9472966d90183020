"""The monthly statement page (issue 15): a seller's and a brand's campaign money of the month
on `/statements`, the CSV download, month navigation and bad periods."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

import campaign_helpers
from creatorhub.web.acting import money
from money_fixtures import ledger_verified
from web_helpers import signed_in_browser
from work_helpers import accept, agreed, apply, call, funded_work_campaign, submit

__all__ = ["ledger_verified"]

PERIOD = datetime.now(UTC).strftime("%Y-%m")


async def test_a_seller_and_a_brand_read_their_statement_and_download_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await campaign_helpers.advertiser(client, funds=100_000)
    campaign = await funded_work_campaign(client, owner, "seller")
    seller = await campaign_helpers.promoter(client)
    application = await apply(client, campaign["id"], seller, 30_000)
    await accept(client, application["id"], owner)
    piece = await agreed(client, application["id"], owner, seller, 1_500)
    await submit(client, piece, seller)
    await call(client, "POST", f"/v1/campaign-deliverables/{piece}/approve", owner)

    async with signed_in_browser(app, seller.email) as browser:
        page = await browser.get("/statements")
        assert page.status_code == 200, page.text
        assert 'href="/statements"' in page.text  # in the creator's navigation
        assert "As a promoter (USD)" in page.text
        for figure, amount in (
            ("promoter-earned_seller", 1_500),
            ("promoter-fees", 150),
            ("promoter-balance_end", 1_350),
            ("promoter-carried_forward", 1_350),  # below the $20 minimum: carried forward
        ):
            assert f'data-figure="{figure}">{money(amount, "USD")}<' in page.text, figure
        assert f'href="/statements/{PERIOD}.csv"' in page.text
        download = await browser.get(f"/statements/{PERIOD}.csv")
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("text/csv")
        (row,) = csv.DictReader(io.StringIO(download.text))
        assert (row["role"], row["earned_seller"], row["carried_forward"]) == (
            "promoter",
            "1500",
            "1350",
        )
        earlier = await browser.get("/statements?period=2020-01")
        assert earlier.status_code == 200
        assert "No campaign money moved for you this month." in earlier.text
        assert 'id="statement-next"' in earlier.text
        assert (await browser.get("/statements?period=2020-13")).status_code == 422
        assert (await browser.get("/statements?period=2999-01")).status_code == 422

    async with signed_in_browser(app, owner.email) as browser:
        page = await browser.get(f"/statements?period={PERIOD}")
        assert "As an advertiser (USD)" in page.text
        assert f'data-figure="advertiser-funded">{money(100_000, "USD")}<' in page.text
        assert f'data-figure="advertiser-spent_seller">{money(1_500, "USD")}<' in page.text
        assert 'id="statement-next"' not in page.text  # no month after this one yet
