"""The round trips of the money hot paths, pinned (issue 12's budgets), statement by statement.

A change that adds a round trip fails here and must update the pin on purpose. Counted with
tests/round_trips.py: every statement, the BEGIN before a transaction's first one, the COMMIT,
a pre-ping. Reads run in autocommit (no BEGIN, no COMMIT); a write is BEGIN, authentication,
the key's lock and lookup, the service's statements, COMMIT.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from helpers import account
from payment_helpers import create_intent, funding_event, idem, post_event
from round_trips import RoundTripCounter, Trips

AUTH = "SELECT identity.auth_tokens"
KEY = "SELECT lock.acquired"  # the key's advisory lock and stored answer, one statement
DEFER = "SELECT unnest( procrastinate_defer_jobs_v1("


def shape(trips: Trips) -> list[str]:
    """Each statement by what it is (the counter keeps a statement's first 160 characters):
    BEGIN/COMMIT, authentication, the key, a deferred job, else its verb and first table."""
    names = []
    for statement in trips.statements:
        if statement in ("BEGIN", "COMMIT", "ROLLBACK"):
            names.append(statement)
        elif statement.startswith(AUTH):
            names.append("auth")
        elif statement.startswith(KEY):
            names.append("key")
        elif statement.startswith(DEFER):
            names.append("defer")
        elif statement.startswith("SELECT "):
            # SELECT schema.table.column, ...: the table it reads first
            names.append("SELECT " + statement.split()[1].rsplit(".", 1)[0])
        else:
            words = statement.replace("(", " ( ").split()
            verb = next(i for i, word in enumerate(words) if word in ("INSERT", "UPDATE"))
            table = words[verb + 2] if words[verb] == "INSERT" else words[verb + 1]
            prefix = "WITH … " if words[0] == "WITH" else ""
            names.append(f"{prefix}{words[verb]} {table}")
    return names


async def test_get_me_is_authentication_and_the_profiles(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    counter = RoundTripCounter.install(app.state.db.engine)
    me = await account(client, roles=["creator", "brand"])
    with counter.counting() as trips:
        response = await client.get("/v1/me", headers=me.headers)
    assert response.status_code == 200, response.text
    # Budget 3: no pre-ping, no BEGIN/COMMIT (a read), the two profiles in one statement.
    assert shape(trips) == ["auth", "SELECT identity.creator_profiles"], trips.statements
    body = response.json()
    assert body["creator_profile"] is None and body["brand_profile"] is None


async def test_creating_a_funding_intent_is_five_round_trips(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    counter = RoundTripCounter.install(app.state.db.engine)
    brand = await account(client, roles=["brand"])
    with counter.counting() as trips:
        response = await client.post(
            "/v1/funding", json={"amount": 25_00}, headers={**brand.headers, **idem()}
        )
    assert response.status_code == 201, response.text
    # Budget 5: the intent, its audit row and the stored answer are one statement.
    assert shape(trips) == [
        "BEGIN",
        "auth",
        "key",
        "WITH … INSERT payments.funding_intents",
        "COMMIT",
    ], trips.statements


async def test_a_crediting_webhook_is_five_round_trips(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    counter = RoundTripCounter.install(app.state.db.engine)
    brand = await account(client, roles=["brand"])
    intent = await create_intent(client, brand.headers, 30_00)
    confirmed = await client.post(
        f"/v1/funding/{intent['id']}/confirm", headers={**brand.headers, **idem()}
    )
    assert confirmed.status_code == 200, confirmed.text
    with counter.counting() as trips:
        response = await post_event(
            client, funding_event(intent["provider_reference"], amount=30_00)
        )
    assert response.json()["outcome"] == "applied_succeeded", response.text
    # Budget 6: the event, the intent locked, then the intent's state, its audit row, the event's
    # outcome and the ledger transfer (the wallet created there, the first money it gets) as one.
    assert shape(trips) == [
        "BEGIN",
        "INSERT payments.webhook_events",
        "SELECT payments.funding_intents",
        "WITH … UPDATE payments.funding_intents",
        "COMMIT",
    ], trips.statements
    wallet = await client.get("/v1/wallet", headers=brand.headers)
    assert wallet.json()["available"] == 30_00


async def test_confirming_a_funding_intent_is_seven_round_trips(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    counter = RoundTripCounter.install(app.state.db.engine)
    brand = await account(client, roles=["brand"])
    intent = await create_intent(client, brand.headers, 12_00)
    with counter.counting() as trips:
        response = await client.post(
            f"/v1/funding/{intent['id']}/confirm", headers={**brand.headers, **idem()}
        )
    assert response.status_code == 200, response.text
    # The intent locked, the sandbox's webhook job deferred, then its state and the answer.
    assert shape(trips) == [
        "BEGIN",
        "auth",
        "key",
        "SELECT payments.funding_intents",
        "defer",
        "WITH … UPDATE payments.funding_intents",
        "COMMIT",
    ], trips.statements


async def test_requesting_and_cancelling_a_payout(client: httpx.AsyncClient, app: FastAPI) -> None:
    counter = RoundTripCounter.install(app.state.db.engine)
    creator = await account(client, roles=["creator"])
    created = await client.post(
        "/v1/payout-accounts", json={"country": "US"}, headers=creator.headers
    )
    assert created.status_code == 201, created.text
    intent = await create_intent(client, creator.headers, 60_00)
    await client.post(f"/v1/funding/{intent['id']}/confirm", headers={**creator.headers, **idem()})
    await post_event(client, funding_event(intent["provider_reference"], amount=60_00))

    with counter.counting() as requested:
        payout = await client.post(
            "/v1/payouts", json={"amount": 25_00}, headers={**creator.headers, **idem()}
        )
    assert payout.status_code == 201, payout.text
    # The payout account read, its submission deferred, then the payout, its audit row, the
    # stored answer and the ledger transfer (wallet → in transit) as one statement.
    assert shape(requested) == [
        "BEGIN",
        "auth",
        "key",
        "SELECT payments.payout_accounts",
        "defer",
        "WITH … INSERT payments.payouts",
        "COMMIT",
    ], requested.statements

    with counter.counting() as cancelled:
        response = await client.post(
            f"/v1/payouts/{payout.json()['id']}/cancel", headers={**creator.headers, **idem()}
        )
    assert response.status_code == 200, response.text
    assert shape(cancelled) == [
        "BEGIN",
        "auth",
        "key",
        "SELECT payments.payouts",
        "WITH … UPDATE payments.payouts",
        "COMMIT",
    ], cancelled.statements


async def test_wallet_reads_are_two_round_trips(client: httpx.AsyncClient, app: FastAPI) -> None:
    counter = RoundTripCounter.install(app.state.db.engine)
    brand = await account(client, roles=["brand"])
    for path in ("/v1/wallet", "/v1/wallet/transactions", "/v1/funding", "/v1/payouts"):
        with counter.counting() as trips:
            response = await client.get(path, headers=brand.headers)
        assert response.status_code == 200, (path, response.text)
        # Authentication and one statement; no BEGIN/COMMIT, and nothing created by reading.
        assert trips.count == 2 and shape(trips)[0] == "auth", (path, trips.statements)
