"""Monthly billing summaries (issue 15): each user's statement of campaign money computed from
the ledger, equal to it to the cent, the same rows when recomputed, and as CSV; the reporting
views (`advertiser_spends`, `platform_fees`, `transactions`, `promoter_balances`) agree with
it. Every test ends with the ledger verified (tests/campaigns/conftest.py)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx

import campaign_helpers
from creatorhub.db import Database
from helpers import account, assert_problem, grant_roles, scalar
from settlement_helpers import fetch
from work_helpers import accept, agreed, apply, call, funded_work_campaign, submit

PERIOD = datetime.now(UTC).strftime("%Y-%m")


async def statement(client: httpx.AsyncClient, who: Any) -> dict[str, dict[str, Any]]:
    body = await call(client, "GET", f"/v1/me/billing-summaries/{PERIOD}", who)
    return {row["role"]: row for row in body["items"]}


async def test_statements_equal_the_ledger_and_recompute_to_the_same_rows(
    client: httpx.AsyncClient, database: Database
) -> None:
    owner = await campaign_helpers.advertiser(client, funds=150_000)
    campaign = await funded_work_campaign(client, owner, "seller")
    sellers = [await campaign_helpers.promoter(client) for _ in range(2)]
    apps = [await apply(client, campaign["id"], seller, 40_000) for seller in sellers]
    for app in apps:
        await accept(client, app["id"], owner)
    for app, seller, amount in zip(apps, sellers, (12_345, 20_000), strict=True):
        piece = await agreed(client, app["id"], owner, seller, amount)
        await submit(client, piece, seller)
        await call(client, "POST", f"/v1/campaign-deliverables/{piece}/approve", owner)
    # A second campaign of the same advertiser, funded and ended at once: refunded whole.
    spare = await campaign_helpers.funded_campaign(client, owner)
    assert (await campaign_helpers.end(client, spare["id"], owner)).status_code == 200

    first = await statement(client, sellers[0])
    assert set(first) == {"promoter"}
    row = first["promoter"]
    assert (row["earned_seller"], row["fees"], row["balance_end"], row["carried_forward"]) == (
        12_345,
        1_234,  # floor(12,345 * 10 %)
        11_111,
        0,  # at least the $20 minimum: paid by the monthly payout, nothing carried
    )
    assert row["earned_visibility"] == row["earned_consultant"] == row["earned_salesman"] == 0
    mine = (await statement(client, owner))["advertiser"]
    assert (
        mine["funded"],
        mine["spent_seller"],
        mine["spent_visibility"],
        mine["fees"],
        mine["refunded"],
    ) == (
        100_000 + campaign_helpers.DEFAULT_BUDGET,
        32_345,
        0,
        1_234 + 2_000,
        campaign_helpers.DEFAULT_BUDGET,
    )

    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    first_run = await call(client, "POST", f"/v1/admin/billing-summaries/{PERIOD}", admin)
    rows_once = await _rows(database)
    again = await call(client, "POST", f"/v1/admin/billing-summaries/{PERIOD}", admin)
    assert first_run["rows"] == again["rows"] == len(rows_once) >= 3
    assert await _rows(database) == rows_once

    # To the cent against the ledger: every campaign spend, fee, funding and refund.
    ledger_sums = await fetch(
        database,
        "SELECT"
        " (SELECT coalesce(sum(t.amount), 0) FROM ledger.transfers t JOIN campaigns.campaigns c"
        "   ON c.escrow_account_id = t.credit_account_id) AS funded,"
        " (SELECT coalesce(sum(t.amount), 0) FROM ledger.transfers t JOIN campaigns.campaigns c"
        "   ON c.escrow_account_id = t.debit_account_id WHERE t.kind <> 'refund') AS spent,"
        " (SELECT coalesce(sum(t.amount), 0) FROM ledger.transfers t JOIN campaigns.campaigns c"
        "   ON c.escrow_account_id = t.debit_account_id WHERE t.kind = 'refund') AS refunded,"
        " (SELECT coalesce(sum(amount), 0) FROM ledger.transfers"
        "   WHERE kind = 'platform_fee' AND metadata ->> 'fee_of' LIKE 'campaign%') AS fees",
    )
    summed = await fetch(
        database,
        "SELECT sum(funded) FILTER (WHERE role = 'advertiser') AS funded,"
        " sum(spent_visibility + spent_consultant + spent_seller + spent_salesman) AS spent,"
        " sum(earned_visibility + earned_consultant + earned_seller + earned_salesman) AS earned,"
        " sum(refunded) AS refunded,"
        " sum(fees) FILTER (WHERE role = 'promoter') AS promoter_fees,"
        " sum(fees) FILTER (WHERE role = 'advertiser') AS advertiser_fees"
        " FROM campaigns.billing_period_summaries WHERE period = :p",
        p=datetime.now(UTC).date().replace(day=1),
    )
    ledger_row, summary = ledger_sums[0], summed[0]
    assert summary["funded"] == ledger_row["funded"]
    assert summary["spent"] == summary["earned"] == ledger_row["spent"] == 32_345
    assert summary["refunded"] == ledger_row["refunded"]
    assert summary["promoter_fees"] == summary["advertiser_fees"] == ledger_row["fees"] == 3_234

    # And user by user: each promoter's earnings and fees, each advertiser's funding, spend,
    # fees and refunds, straight from the transfers.
    per_user = await fetch(
        database,
        "WITH escrow AS (SELECT c.escrow_account_id AS id, c.advertiser_id"
        "  FROM campaigns.campaigns c),"
        " wallets AS (SELECT id, owner_id FROM ledger.accounts WHERE owner_type = 'user')"
        " SELECT s.user_id, s.role,"
        "  CASE WHEN s.role = 'promoter' THEN"
        "   (SELECT coalesce(sum(t.amount), 0) FROM ledger.transfers t JOIN escrow e"
        "     ON e.id = t.debit_account_id JOIN wallets w ON w.id = t.credit_account_id"
        "     WHERE w.owner_id = s.user_id AND t.kind <> 'refund')"
        "  ELSE (SELECT coalesce(sum(t.amount), 0) FROM ledger.transfers t JOIN escrow e"
        "     ON e.id = t.debit_account_id WHERE e.advertiser_id = s.user_id"
        "     AND t.kind <> 'refund') END AS ledger_gross,"
        "  s.earned_visibility + s.earned_consultant + s.earned_seller + s.earned_salesman"
        "   + s.spent_visibility + s.spent_consultant + s.spent_seller + s.spent_salesman"
        "   AS summary_gross,"
        "  CASE WHEN s.role = 'promoter' THEN"
        "   (SELECT coalesce(sum(t.amount), 0) FROM ledger.transfers t JOIN wallets w"
        "     ON w.id = t.debit_account_id WHERE w.owner_id = s.user_id"
        "     AND t.kind = 'platform_fee' AND t.metadata ->> 'fee_of' LIKE 'campaign%')"
        "  ELSE s.fees END AS ledger_fees, s.fees AS summary_fees,"
        "  CASE WHEN s.role = 'advertiser' THEN"
        "   (SELECT coalesce(sum(t.amount), 0) FROM ledger.transfers t JOIN escrow e"
        "     ON e.id = t.credit_account_id WHERE e.advertiser_id = s.user_id)"
        "  ELSE 0 END AS ledger_funded, s.funded AS summary_funded"
        " FROM campaigns.billing_period_summaries s WHERE s.period = :p",
        p=datetime.now(UTC).date().replace(day=1),
    )
    assert len(per_user) == 3
    for line in per_user:
        assert line["ledger_gross"] == line["summary_gross"], line
        assert line["ledger_fees"] == line["summary_fees"], line
        assert line["ledger_funded"] == line["summary_funded"], line

    # The seed's reporting tables, as views, say the same.
    spends = await fetch(
        database,
        "SELECT sum(spent) AS spent, sum(platform_fees) AS fees, sum(refunded) AS refunded"
        " FROM campaigns.advertiser_spends WHERE advertiser_id = :a",
        a=owner.id,
    )
    assert (spends[0]["spent"], spends[0]["fees"], spends[0]["refunded"]) == (
        32_345,
        3_234,
        campaign_helpers.DEFAULT_BUDGET,
    )
    fees = await fetch(
        database,
        "SELECT gross, platform_fee, transaction_kind, provider_fee FROM campaigns.platform_fees"
        " WHERE advertiser_id = :a ORDER BY gross",
        a=owner.id,
    )
    assert [tuple(f.values()) for f in fees] == [
        (12_345, 1_234, "campaign_work", None),
        (20_000, 2_000, "campaign_work", None),
    ]
    earnings = await fetch(
        database,
        "SELECT gross, fee, net FROM campaigns.transactions"
        " WHERE advertiser_id = :a AND type = 'earning' ORDER BY gross",
        a=owner.id,
    )
    assert [tuple(e.values()) for e in earnings] == [
        (12_345, 1_234, 11_111),
        (20_000, 2_000, 18_000),
    ]
    balances = await scalar(
        database,
        "SELECT balance FROM campaigns.promoter_balances WHERE user_id = :u",
        u=sellers[0].id,
    )
    assert balances == 11_111


async def _rows(database: Database) -> list[tuple[Any, ...]]:
    rows = await fetch(
        database,
        "SELECT * FROM campaigns.billing_period_summaries ORDER BY user_id, role, currency",
    )
    return [tuple(v for k, v in r.items() if k != "computed_at") for r in rows]


async def test_the_statement_as_csv_and_bad_periods(client: httpx.AsyncClient) -> None:
    owner = await campaign_helpers.advertiser(client, funds=campaign_helpers.DEFAULT_BUDGET)
    await campaign_helpers.funded_campaign(client, owner)
    response = await client.get(f"/v1/me/billing-summaries/{PERIOD}/csv", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert f"creatorhub-statement-{PERIOD}.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 1
    assert (rows[0]["role"], rows[0]["currency"], rows[0]["funded"]) == (
        "advertiser",
        "USD",
        str(campaign_helpers.DEFAULT_BUDGET),
    )
    for bad in ("2026-13", "20x6-01", "1999-12"):
        answer = await client.get(f"/v1/me/billing-summaries/{bad}", headers=owner.headers)
        assert_problem(answer, 422, "period_invalid")
    future = await client.get("/v1/me/billing-summaries/2999-01", headers=owner.headers)
    assert_problem(future, 422, "period_in_future")
    nobody = await account(client)
    empty = await client.get(f"/v1/me/billing-summaries/{PERIOD}", headers=nobody.headers)
    assert empty.status_code == 200 and empty.json() == {"items": []}
