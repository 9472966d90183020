"""The public randomness beacon of a draw: a drand round that did not exist at commit time.

The commitment names a future round of a drand chain (`choose_round`); the draw waits for it
and mixes its randomness into the DRBG (`drbg.draw_randomness`), so neither the host nor the
platform could know the outcome when the seed was committed.

drand rounds: round 1 is published at the chain's genesis time, round `r` at
`genesis + (r - 1) * period`; the round current at time `t` is `floor((t - genesis) / period)
+ 1`. The round chosen is the first one published strictly after `commit time + margin`.

For unchained beacons (scheme `bls-unchained-*`, e.g. "quicknet") a round's randomness is
SHA-256 of its BLS signature; `check_beacon` verifies that relation. It does NOT verify the BLS
signature itself against the chain's public key (that needs a pairing library, out of scope):
the certificate says so with `signature_checked: false`, and anyone can check the signature
with drand's own tools, or fetch the round from any drand relay and compare.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True)
class DrandChain:
    chain_hash: str
    genesis_time: int  # UNIX seconds
    period: int  # seconds
    url: str


# drand's "quicknet" (League of Entropy mainnet, unchained, a round every 3 s).
QUICKNET: Final = DrandChain(
    chain_hash="52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
    genesis_time=1692803367,
    period=3,
    url="https://api.drand.sh/52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
)
KNOWN_CHAINS: Final = {QUICKNET.chain_hash: QUICKNET}


def round_at(moment: float, genesis: int, period: int) -> int:
    """The round current at `moment` (UNIX seconds); 0 before genesis."""
    if moment < genesis:
        return 0
    return math.floor((moment - genesis) / period) + 1


def time_of_round(round_number: int, genesis: int, period: int) -> int:
    if round_number < 1:
        raise ValueError("drand rounds start at 1")
    return genesis + (round_number - 1) * period


def choose_round(commit_time: float, margin: float, genesis: int, period: int) -> int:
    """The first round published strictly after `commit_time + margin`."""
    return round_at(commit_time + margin, genesis, period) + 1


def commitment_beacon(chain: DrandChain, round_number: int) -> dict[str, Any]:
    """The `beacon` of a commitment (what the draw will wait for)."""
    return {
        "kind": "drand",
        "chain_hash": chain.chain_hash,
        "round": round_number,
        "url": chain.url,
    }


def randomness_of(signature_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(signature_hex)).hexdigest()


def check_beacon(randomness_hex: str, signature_hex: str) -> bool:
    """Whether the randomness is SHA-256 of the signature (unchained drand beacons)."""
    try:
        return len(bytes.fromhex(randomness_hex)) == 32 and (
            randomness_of(signature_hex) == randomness_hex.lower()
        )
    except ValueError:
        return False


@dataclass(frozen=True)
class BeaconReveal:
    """A published round: its number, randomness and signature (hex), as drand serves them."""

    round: int
    randomness: str
    signature: str

    @classmethod
    def from_drand(cls, document: dict[str, Any]) -> BeaconReveal:
        """From drand's HTTP answer (`GET <url>/public/<round>`)."""
        return cls(int(document["round"]), document["randomness"], document["signature"])

    @property
    def randomness_bytes(self) -> bytes:
        return bytes.fromhex(self.randomness)
