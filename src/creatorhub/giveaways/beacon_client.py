"""The drand randomness beacon over its HTTP API (v1 paths, as api.drand.sh serves them).

* `fetch_info(client, base_url, chain_hash)`: `GET {base_url}/{chain_hash}/info`, the chain's
  `public_key`, `period`, `genesis_time`, `hash`, `groupHash`, `schemeID` and `metadata`.
* `fetch_round(client, base_url, chain_hash, round)`: `GET {base_url}/{chain_hash}/public/{round}`,
  `{"round", "randomness", "signature"}` plus `previous_signature` on chained schemes.
* `fetch_latest(...)`: `GET .../public/latest`, the same shape.

Errors, all `BeaconError`:

* `BeaconNotYet`: the round is not out yet. drand's HTTP relay (the server behind
  api.drand.sh, github.com/drand/http-relay) answers `425 Too Early` ("Requested future
  beacon") for a round after the next one, with `Cache-Control: max-age=<seconds until the
  next round>` (read into `retry_after`); the API's description (drand-docs `drand-api.yaml`)
  and older nodes answer `404` ("round or chain not found"), taken the same way.
* `BeaconUnavailable`: no usable answer (network error, timeout, 429, 5xx, a body that is not
  JSON): try again later, another relay maybe.
* `BeaconMismatch`: an answer that is not the beacon asked for: another round number,
  `randomness` other than SHA-256 of `signature` (drand defines it so for every scheme,
  chained or not), malformed fields, or chain info whose `hash` is not the chain asked for.
  Never retried silently: a relay that lies must be noticed.
* `BeaconError` itself: any other refusal (a 4xx such as 400, or `404` for a chain's info).

What is not checked here: the BLS signature against the chain's public key (no pairing library
in the project). The randomness-is-SHA-256(signature) check binds the randomness to the
signature, so a later verification of the signature (offline, with the draw's certificate)
covers both.

Rounds: round 1 is at `genesis_time`, round r at `genesis_time + (r - 1) * period`
(`ChainInfo.round_at`, `ChainInfo.time_of`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX = re.compile(r"(?:[0-9a-f]{2})+")
_MAX_AGE = re.compile(r"max-age=(\d+)")


class BeaconError(Exception):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class BeaconNotYet(BeaconError):
    def __init__(
        self, message: str, *, round: int, status: int, retry_after: int | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.round = round
        self.retry_after = retry_after  # seconds, when the server said


class BeaconUnavailable(BeaconError):
    """Retryable."""


class BeaconMismatch(BeaconError):
    """The answer is not the beacon (or the chain) that was asked for."""


@dataclass(frozen=True)
class BeaconRound:
    round: int
    randomness: str  # hex, 32 bytes: SHA-256 of the signature
    signature: str  # hex
    previous_signature: str | None = None  # hex; chained schemes only


@dataclass(frozen=True)
class ChainInfo:
    public_key: str
    period: int  # seconds
    genesis_time: int  # UNIX seconds: the time of round 1
    hash: str
    group_hash: str
    scheme_id: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def time_of(self, round: int) -> datetime:
        """When `round` is due."""
        return datetime.fromtimestamp(self.genesis_time + (round - 1) * self.period, UTC)

    def round_at(self, when: datetime) -> int:
        """The latest round due at `when` (0 before genesis)."""
        elapsed = int(when.timestamp()) - self.genesis_time
        return 0 if elapsed < 0 else elapsed // self.period + 1


def _check_chain_hash(chain_hash: str) -> str:
    chain = chain_hash.lower()
    if not _HEX64.fullmatch(chain):
        raise ValueError(f"a chain hash is 64 hex digits, not {chain_hash!r}")
    return chain


def _url(base_url: str, *parts: str) -> str:
    return "/".join((base_url.rstrip("/"), *parts))


def _retry_after(response: httpx.Response) -> int | None:
    match = _MAX_AGE.search(response.headers.get("cache-control", ""))
    if match:
        return int(match.group(1))
    value = response.headers.get("retry-after", "")
    return int(value) if value.isdigit() else None


async def _get(client: httpx.AsyncClient, url: str) -> httpx.Response:
    try:
        response = await client.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as error:  # transport errors and timeouts
        raise BeaconUnavailable(f"drand at {url}: {type(error).__name__}: {error}") from error
    if response.status_code == 429 or response.status_code >= 500:
        raise BeaconUnavailable(
            f"drand at {url}: HTTP {response.status_code}", status=response.status_code
        )
    return response


def _json_object(response: httpx.Response, url: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise BeaconError(
            f"drand at {url}: HTTP {response.status_code}: {response.text[:200]!r}",
            status=response.status_code,
        )
    try:
        body = response.json()
    except ValueError:
        raise BeaconUnavailable(
            f"drand at {url}: the answer is not JSON", status=response.status_code
        ) from None
    if not isinstance(body, dict):
        raise BeaconMismatch(f"drand at {url}: the answer is not a JSON object")
    return body


def _hex(body: dict[str, Any], key: str, url: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not _HEX.fullmatch(value.lower()):
        raise BeaconMismatch(f"drand at {url}: {key} is not hex: {str(value)[:80]!r}")
    return value.lower()


def _integer(body: dict[str, Any], key: str, url: str, *, minimum: int) -> int:
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise BeaconMismatch(f"drand at {url}: {key} is not an integer >= {minimum}: {value!r}")
    return value


def _beacon(body: dict[str, Any], url: str) -> BeaconRound:
    number = _integer(body, "round", url, minimum=1)
    signature = _hex(body, "signature", url)
    assert signature is not None
    expected = hashlib.sha256(bytes.fromhex(signature)).hexdigest()
    # The v2 API leaves the randomness out (it is the signature's hash): derive it then.
    randomness = _hex(body, "randomness", url, required=False) or expected
    if randomness != expected:
        raise BeaconMismatch(
            f"drand at {url}: round {number}'s randomness is not SHA-256 of its signature"
        )
    previous = _hex(body, "previous_signature", url, required=False)
    return BeaconRound(number, randomness, signature, previous)


async def fetch_info(client: httpx.AsyncClient, base_url: str, chain_hash: str) -> ChainInfo:
    """The chain's parameters; `BeaconMismatch` if the answer is another chain's."""
    chain = _check_chain_hash(chain_hash)
    url = _url(base_url, chain, "info")
    body = _json_object(await _get(client, url), url)
    public_key = _hex(body, "public_key", url)
    answered_hash = _hex(body, "hash", url)
    group_hash = _hex(body, "groupHash", url)
    scheme = body.get("schemeID")
    metadata = body.get("metadata", {})
    if not isinstance(scheme, str) or not scheme:
        raise BeaconMismatch(f"drand at {url}: schemeID is missing")
    if not isinstance(metadata, dict):
        raise BeaconMismatch(f"drand at {url}: metadata is not an object")
    if answered_hash != chain:
        raise BeaconMismatch(f"drand at {url}: the info is of chain {answered_hash}, not {chain}")
    assert public_key is not None and group_hash is not None
    return ChainInfo(
        public_key=public_key,
        period=_integer(body, "period", url, minimum=1),
        genesis_time=_integer(body, "genesis_time", url, minimum=0),
        hash=chain,
        group_hash=group_hash,
        scheme_id=scheme,
        metadata=metadata,
    )


async def fetch_round(
    client: httpx.AsyncClient, base_url: str, chain_hash: str, round: int
) -> BeaconRound:
    """Round `round` of the chain, checked (see the module's docstring)."""
    chain = _check_chain_hash(chain_hash)
    if isinstance(round, bool) or not isinstance(round, int) or round < 1:
        raise ValueError(f"a drand round is an integer >= 1, not {round!r}")
    url = _url(base_url, chain, "public", str(round))
    response = await _get(client, url)
    if response.status_code in (404, 425):
        raise BeaconNotYet(
            f"drand at {url}: round {round} is not out yet (HTTP {response.status_code})",
            round=round,
            status=response.status_code,
            retry_after=_retry_after(response),
        )
    beacon = _beacon(_json_object(response, url), url)
    if beacon.round != round:
        raise BeaconMismatch(f"drand at {url}: asked for round {round}, got {beacon.round}")
    return beacon


async def fetch_latest(client: httpx.AsyncClient, base_url: str, chain_hash: str) -> BeaconRound:
    """The chain's latest round, checked like `fetch_round` (but for its number)."""
    url = _url(base_url, _check_chain_hash(chain_hash), "public", "latest")
    return _beacon(_json_object(await _get(client, url), url), url)
