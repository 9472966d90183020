"""Setting a fee rule is one upsert: concurrent setters of one rule (new or existing, default or
a payee's override) never collide; there is one row, holding the last committed value."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from creatorhub.db import Database
from helpers import account, grant_roles
from payment_helpers import count

SETTERS = 12
# The rules of :kind, the default one (:payee NULL) or :payee's override.
RULES = (
    "SELECT count(*) FROM payments.fee_rules WHERE transaction_kind = :kind"
    " AND user_id IS NOT DISTINCT FROM CAST(:payee AS uuid)"
)
VALUE = (
    "SELECT basis_points FROM payments.fee_rules WHERE transaction_kind = :kind"
    " AND user_id IS NOT DISTINCT FROM CAST(:payee AS uuid)"
)
# What the audit row of the transaction that last wrote the rule (its xmin) says it set.
LAST_SET = (
    "SELECT a.after->>'basis_points' FROM audit.audit_logs a JOIN payments.fee_rules r"
    " ON a.entity_id = r.id::text AND a.xmin = r.xmin AND a.action = 'fees.set'"
    " WHERE r.transaction_kind = :kind AND r.user_id IS NOT DISTINCT FROM CAST(:payee AS uuid)"
)


@pytest.mark.parametrize("override", [False, True], ids=["default", "payee override"])
async def test_concurrent_updates_of_one_rule_leave_one_row_with_the_last_value(
    client: httpx.AsyncClient, database: Database, override: bool
) -> None:
    admin = await account(client)
    await grant_roles(database, admin.id, "admin")
    payee = await account(client, roles=["creator"])
    kind = "race_kind"  # no rule yet: the first setters race to create it
    extra = {"user_id": payee.id} if override else {}

    responses = await asyncio.gather(
        *(
            client.put(
                f"/v1/admin/fees/{kind}",
                json={"basis_points": 100 + n, "fixed_amount": n, **extra},
                headers=admin.headers,
            )
            for n in range(SETTERS)
        )
    )
    # Every setter succeeded (a check-then-insert would fail the losers of the first insert
    # on the unique index), and each saw its own value written.
    assert [r.status_code for r in responses] == [200] * SETTERS, [r.text for r in responses]
    assert sorted(r.json()["basis_points"] for r in responses) == [100 + n for n in range(SETTERS)]
    rule_ids = {r.json()["id"] for r in responses}
    assert len(rule_ids) == 1

    rule = {"kind": kind, "payee": payee.id if override else None}
    assert await count(database, RULES, **rule) == 1
    value = await count(database, VALUE, **rule)
    assert await count(database, LAST_SET, **rule) == value
    assert (
        await count(
            database,
            "SELECT count(*) FROM audit.audit_logs WHERE action = 'fees.set' AND entity_id = :rule",
            rule=rule_ids.pop(),
        )
        == SETTERS
    )
    # Read back through the API: one rule of this kind (for this payee).
    rules = (await client.get("/v1/admin/fees", headers=admin.headers)).json()
    mine = [r for r in rules if r["transaction_kind"] == kind]
    assert len(mine) == 1 and mine[0]["basis_points"] == value
