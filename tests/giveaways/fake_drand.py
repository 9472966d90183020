"""A local stand-in for a drand HTTP relay (api.drand.sh's v1 paths), for httpx.ASGITransport.

`FakeDrand(seed=..., chained=...)` is one chain whose every round is known in advance: the
"signature" of round r is SHAKE-256(seed, r) (96 bytes on the chained scheme, like
`pedersen-bls-chained`'s G2 signatures; 48 on the unchained one, like quicknet's G1 ones), not a
BLS signature, and the randomness is SHA-256 of it, as drand's. Two fakes with the same seed
serve the same chain. Its clock (`now`, UNIX seconds, set by the test) decides which rounds are
out: round r is due at `genesis_time + (r - 1) * period`.

Routes, as the relay answers them (github.com/drand/http-relay, routes_handler.go):

* `GET /{chain}/info`: `public_key, period, genesis_time, hash, groupHash, schemeID, metadata`;
* `GET /{chain}/public/latest` (and round 0): the latest round out;
* `GET /{chain}/public/{round}`: that round, or for a round after the clock's `425 Too Early`
  "Requested future beacon" with `Cache-Control: must-revalidate, public, max-age=<seconds
  until the next round>` (the relay long-polls the very next round; the fake refuses it too);
  `404` instead with `legacy_not_found` (the API description's and older nodes' answer);
* an unknown chain: `404 {"error": "chain not found"}`; a round that is not a number: `400`.

Faults for tests: `fail_next(503, ...)` answers the next requests with those statuses;
`tamper_next(**fields)` changes fields of the next beacon answered (`round`, `randomness`, ...);
`omit_randomness` answers like the v2 API (no `randomness`). `requests` lists the paths asked.
"""

from __future__ import annotations

import hashlib
from collections import deque
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

CHAINED_SCHEME = "pedersen-bls-chained"
UNCHAINED_SCHEME = "bls-unchained-g1-rfc9380"


class FakeDrand:
    def __init__(
        self,
        seed: bytes = b"creatorhub fake drand",
        *,
        chained: bool = True,
        period: int | None = None,
        genesis_time: int = 1_700_000_000,
        current_round: int = 1000,
    ) -> None:
        self.seed = seed
        self.chained = chained
        self.scheme_id = CHAINED_SCHEME if chained else UNCHAINED_SCHEME
        self.period = period if period is not None else (30 if chained else 3)
        self.genesis_time = genesis_time
        self.signature_bytes = 96 if chained else 48
        self.chain_hash = hashlib.sha256(seed + self.scheme_id.encode()).hexdigest()
        self.public_key = hashlib.shake_256(seed + b"/public-key").hexdigest(48 if chained else 96)
        self.group_hash = hashlib.sha256(seed + b"/group").hexdigest()
        self.now: float = self.time_of(current_round)
        self.legacy_not_found = False
        self.omit_randomness = False
        self.requests: list[str] = []
        self._failures: deque[int] = deque()
        self._tampers: deque[dict[str, Any]] = deque()
        self.app = Starlette(
            routes=[
                Route("/{chain}/info", self._info),
                Route("/{chain}/public/latest", self._latest),
                Route("/{chain}/public/{round}", self._round),
            ]
        )

    # The chain.

    def time_of(self, round: int) -> float:
        return float(self.genesis_time + (round - 1) * self.period)

    @property
    def current_round(self) -> int:
        elapsed = int(self.now) - self.genesis_time
        return 0 if elapsed < 0 else elapsed // self.period + 1

    def signature(self, round: int) -> str:
        if round == 0:  # the chained schemes' genesis "signature": the group hash
            return self.group_hash
        return hashlib.shake_256(self.seed + round.to_bytes(8, "big")).hexdigest(
            self.signature_bytes
        )

    def randomness(self, round: int) -> str:
        return hashlib.sha256(bytes.fromhex(self.signature(round))).hexdigest()

    def beacon(self, round: int) -> dict[str, Any]:
        body: dict[str, Any] = {"round": round, "randomness": self.randomness(round)}
        body["signature"] = self.signature(round)
        if self.chained:
            body["previous_signature"] = self.signature(round - 1)
        return body

    def info(self) -> dict[str, Any]:
        return {
            "public_key": self.public_key,
            "period": self.period,
            "genesis_time": self.genesis_time,
            "hash": self.chain_hash,
            "groupHash": self.group_hash,
            "schemeID": self.scheme_id,
            "metadata": {"beaconID": "default" if self.chained else "quicknet"},
        }

    # Faults.

    def fail_next(self, *statuses: int) -> None:
        self._failures.extend(statuses)

    def tamper_next(self, **fields: Any) -> None:
        self._tampers.append(fields)

    # The routes.

    def _refusal(self, request: Request) -> Response | None:
        self.requests.append(request.url.path)
        if self._failures:
            status = self._failures.popleft()
            return PlainTextResponse("Failed to get beacon", status_code=status)
        if request.path_params["chain"] != self.chain_hash:
            return JSONResponse({"error": "chain not found"}, status_code=404)
        return None

    def _answer(self, round: int) -> Response:
        body = self.beacon(round)
        if self.omit_randomness:
            del body["randomness"]
        if self._tampers:
            body.update(self._tampers.popleft())
        return JSONResponse(body, headers={"Cache-Control": "public, max-age=604800, immutable"})

    async def _info(self, request: Request) -> Response:
        return self._refusal(request) or JSONResponse(self.info())

    def _latest_answer(self) -> Response:
        if self.current_round < 1:
            return PlainTextResponse("Failed to get beacon", status_code=500)
        return self._answer(self.current_round)

    async def _latest(self, request: Request) -> Response:
        return self._refusal(request) or self._latest_answer()

    async def _round(self, request: Request) -> Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        text = request.path_params["round"]
        if not text.isdigit():
            return PlainTextResponse(f"Failed to parse round parameter {text!r}", 400)
        round = int(text)
        if round == 0:
            return self._latest_answer()
        if round > self.current_round:
            wait = max(0, int(self.time_of(self.current_round + 1) - self.now))
            if self.legacy_not_found:
                return JSONResponse({"error": "round or chain not found"}, status_code=404)
            return PlainTextResponse(
                "Requested future beacon",
                status_code=425,
                headers={"Cache-Control": f"must-revalidate, public, max-age={wait}"},
            )
        return self._answer(round)
