"""The drand client against the fake relay (tests/giveaways/fake_drand.py): no network."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from creatorhub.giveaways.beacon_client import (
    BeaconError,
    BeaconMismatch,
    BeaconNotYet,
    BeaconRound,
    BeaconUnavailable,
    fetch_info,
    fetch_latest,
    fetch_round,
)

from .fake_drand import FakeDrand

BASE = "http://drand.test"


@pytest.fixture
def drand() -> FakeDrand:
    return FakeDrand()


@pytest.fixture
async def client(drand: FakeDrand) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=drand.app)) as http:
        yield http


async def test_info_is_the_chains(drand: FakeDrand, client: httpx.AsyncClient) -> None:
    info = await fetch_info(client, BASE, drand.chain_hash)
    assert info.hash == drand.chain_hash
    assert info.public_key == drand.public_key
    assert info.period == 30
    assert info.genesis_time == 1_700_000_000
    assert info.group_hash == drand.group_hash
    assert info.scheme_id == "pedersen-bls-chained"
    assert info.metadata == {"beaconID": "default"}
    assert drand.requests == [f"/{drand.chain_hash}/info"]
    # Round 1 at genesis, one round a period.
    assert info.time_of(1) == datetime.fromtimestamp(1_700_000_000, UTC)
    assert info.round_at(info.time_of(1000)) == 1000
    assert info.round_at(datetime.fromtimestamp(1_700_000_000 + 29, UTC)) == 1
    assert info.round_at(datetime.fromtimestamp(1_699_999_999, UTC)) == 0


async def test_a_round_is_checked_and_returned(drand: FakeDrand, client: httpx.AsyncClient) -> None:
    beacon = await fetch_round(client, BASE, drand.chain_hash, 990)
    signature = drand.signature(990)
    assert beacon == BeaconRound(
        round=990,
        randomness=hashlib.sha256(bytes.fromhex(signature)).hexdigest(),
        signature=signature,
        previous_signature=drand.signature(989),
    )
    assert drand.requests == [f"/{drand.chain_hash}/public/990"]


async def test_the_same_seed_serves_the_same_chain(client: httpx.AsyncClient) -> None:
    other = FakeDrand()
    transport = httpx.ASGITransport(app=other.app)
    async with httpx.AsyncClient(transport=transport) as second:
        again = await fetch_round(second, BASE, other.chain_hash, 42)
    assert again == await fetch_round(client, BASE, other.chain_hash, 42)
    assert FakeDrand(b"another seed").chain_hash != other.chain_hash


async def test_an_unchained_round_has_no_previous_signature() -> None:
    quick = FakeDrand(b"quick", chained=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=quick.app)) as http:
        info = await fetch_info(http, BASE + "/", quick.chain_hash.upper())
        beacon = await fetch_round(http, BASE, quick.chain_hash, 7)
    assert (info.scheme_id, info.period) == ("bls-unchained-g1-rfc9380", 3)
    assert beacon.previous_signature is None
    assert len(bytes.fromhex(beacon.signature)) == 48


async def test_latest_is_the_clocks_round(drand: FakeDrand, client: httpx.AsyncClient) -> None:
    assert (await fetch_latest(client, BASE, drand.chain_hash)).round == 1000
    drand.now += 30
    assert (await fetch_latest(client, BASE, drand.chain_hash)).round == 1001


async def test_a_future_round_is_too_early(drand: FakeDrand, client: httpx.AsyncClient) -> None:
    drand.now += 10  # 20 s before round 1001
    with pytest.raises(BeaconNotYet) as refused:
        await fetch_round(client, BASE, drand.chain_hash, 1001)
    assert (refused.value.status, refused.value.round, refused.value.retry_after) == (425, 1001, 20)
    drand.now += 20
    assert (await fetch_round(client, BASE, drand.chain_hash, 1001)).round == 1001


async def test_an_older_server_says_404(drand: FakeDrand, client: httpx.AsyncClient) -> None:
    drand.legacy_not_found = True
    with pytest.raises(BeaconNotYet) as refused:
        await fetch_round(client, BASE, drand.chain_hash, 5000)
    assert refused.value.status == 404
    assert refused.value.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_server_errors_are_unavailable(
    drand: FakeDrand, client: httpx.AsyncClient, status: int
) -> None:
    drand.fail_next(status)
    with pytest.raises(BeaconUnavailable) as failed:
        await fetch_round(client, BASE, drand.chain_hash, 10)
    assert failed.value.status == status
    # The next request is answered: nothing stuck.
    assert (await fetch_round(client, BASE, drand.chain_hash, 10)).round == 10


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("x")],
)
async def test_network_errors_are_unavailable(error: httpx.HTTPError) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as http:
        with pytest.raises(BeaconUnavailable):
            await fetch_round(http, BASE, "ab" * 32, 1)
        with pytest.raises(BeaconUnavailable):
            await fetch_info(http, BASE, "ab" * 32)


async def test_an_answer_that_is_not_json_is_unavailable() -> None:
    def captive(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>please log in</html>")

    async with httpx.AsyncClient(transport=httpx.MockTransport(captive)) as http:
        with pytest.raises(BeaconUnavailable):
            await fetch_round(http, BASE, "ab" * 32, 1)


async def test_another_round_is_a_mismatch(drand: FakeDrand, client: httpx.AsyncClient) -> None:
    drand.tamper_next(**drand.beacon(11))
    with pytest.raises(BeaconMismatch, match="asked for round 12, got 11"):
        await fetch_round(client, BASE, drand.chain_hash, 12)


async def test_randomness_must_be_the_signatures_hash(
    drand: FakeDrand, client: httpx.AsyncClient
) -> None:
    drand.tamper_next(randomness=drand.randomness(13))
    with pytest.raises(BeaconMismatch, match="randomness is not SHA-256"):
        await fetch_round(client, BASE, drand.chain_hash, 12)
    drand.tamper_next(signature=drand.signature(13))
    with pytest.raises(BeaconMismatch, match="randomness is not SHA-256"):
        await fetch_round(client, BASE, drand.chain_hash, 12)


@pytest.mark.parametrize(
    "fields",
    [{"signature": "not hex"}, {"signature": None}, {"round": "12"}, {"round": True}],
)
async def test_malformed_beacons_are_mismatches(
    drand: FakeDrand, client: httpx.AsyncClient, fields: dict[str, object]
) -> None:
    drand.tamper_next(**fields)
    with pytest.raises(BeaconMismatch):
        await fetch_round(client, BASE, drand.chain_hash, 12)


async def test_without_randomness_it_is_derived(
    drand: FakeDrand, client: httpx.AsyncClient
) -> None:
    drand.omit_randomness = True  # as the v2 API answers
    beacon = await fetch_round(client, BASE, drand.chain_hash, 12)
    assert beacon.randomness == drand.randomness(12)


async def test_info_of_another_chain_is_a_mismatch(drand: FakeDrand) -> None:
    def another_chains_info(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=drand.info())

    async with httpx.AsyncClient(transport=httpx.MockTransport(another_chains_info)) as http:
        with pytest.raises(BeaconMismatch, match="is of chain"):
            await fetch_info(http, BASE, "cd" * 32)


async def test_an_unknown_chain_is_refused(drand: FakeDrand, client: httpx.AsyncClient) -> None:
    with pytest.raises(BeaconError) as refused:
        await fetch_info(client, BASE, "ef" * 32)
    assert type(refused.value) is BeaconError
    assert refused.value.status == 404


async def test_bad_arguments_are_programming_errors(client: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="64 hex digits"):
        await fetch_round(client, BASE, "default", 1)
    with pytest.raises(ValueError, match=">= 1"):
        await fetch_round(client, BASE, "ab" * 32, 0)
