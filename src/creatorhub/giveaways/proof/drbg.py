"""The draw's random numbers: HMAC-SHA256 only, so any language can replay them exactly.

Specification (version 1; every integer below is unsigned, every hash is raw bytes):

1. Randomness of the draw::

       randomness = HMAC-SHA256(key = seed,
                                msg = "creatorhub-draw-v1" || commitment_hash || beacon)

   `seed`: the 32 secret bytes revealed in the certificate; `"creatorhub-draw-v1"`: those 18
   ASCII bytes; `commitment_hash`: the 32 bytes of SHA-256 of the canonical commitment;
   `beacon`: the 32 bytes of the beacon round's randomness, or nothing when the draw has no
   beacon.

2. Stream: block `i` (i = 0, 1, 2, ...) is `HMAC-SHA256(key = randomness, msg = i)` with `i`
   as 8 bytes big-endian. The stream is block 0, then block 1, ...; it is read 8 bytes at a
   time as big-endian 64-bit integers `u` (4 per block, in order, none skipped).

3. `uniform(n)`, an integer in [0, n) for 1 <= n <= 2**64, without modulo bias::

       limit = 2**64 - (2**64 mod n)
       repeat: u = next 64-bit integer of the stream; until u < limit
       return u mod n

   (`uniform(1)` still reads one integer.)

4. Selection among `m` eligible positions `P[0..m-1]` (entry indices in ascending order): a
   partial Fisher-Yates shuffle::

       for i = 0, 1, ...:  j = i + uniform(m - i); swap P[i] and P[j]; P[i] is drawn number i

   The draw takes as many as it needs (`draw.run_draw`: winners, then alternates, skipping an
   entry whose user already has one) and stops; it never reads further.

In JavaScript: `crypto.subtle` HMAC-SHA256 and BigInt for the 64-bit integers.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from typing import Final

DOMAIN: Final = b"creatorhub-draw-v1"
_TWO_64: Final = 1 << 64


def draw_randomness(seed: bytes, commitment_hash: bytes, beacon: bytes | None) -> bytes:
    if len(seed) != 32 or len(commitment_hash) != 32:
        raise ValueError("the seed and the commitment hash are 32 bytes each")
    if beacon is not None and len(beacon) != 32:
        raise ValueError("a beacon's randomness is 32 bytes")
    message = DOMAIN + commitment_hash + (beacon or b"")
    return hmac.new(seed, message, hashlib.sha256).digest()


class Drbg:
    """The stream of step 2 and `uniform` of step 3."""

    def __init__(self, randomness: bytes) -> None:
        self._key = randomness
        self._block = 0
        self._buffer = b""
        self._offset = 0

    def next_u64(self) -> int:
        if self._offset == len(self._buffer):
            counter = self._block.to_bytes(8, "big")
            self._buffer = hmac.new(self._key, counter, hashlib.sha256).digest()
            self._block += 1
            self._offset = 0
        value = int.from_bytes(self._buffer[self._offset : self._offset + 8], "big")
        self._offset += 8
        return value

    def uniform(self, n: int) -> int:
        if not 1 <= n <= _TWO_64:
            raise ValueError(f"uniform({n}): n must be in [1, 2**64]")
        limit = _TWO_64 - (_TWO_64 % n)
        while True:
            value = self.next_u64()
            if value < limit:
                return value % n


def shuffled(positions: Sequence[int], randomness: bytes) -> Iterator[int]:
    """Step 4: the positions in draw order, lazily (the caller stops when it has enough)."""
    order = list(positions)
    size = len(order)
    stream = Drbg(randomness)
    for i in range(size):
        j = i + stream.uniform(size - i)
        order[i], order[j] = order[j], order[i]
        yield order[i]
