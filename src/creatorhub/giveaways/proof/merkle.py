"""The Merkle tree over the ENTRIES lines (RFC 6962's tree hash).

    leaf   = SHA-256(0x00 || line)            line: the canonical line, without its "\\n"
    node   = SHA-256(0x01 || left || right)

Leaves are paired left to right, level after level; an odd last node is promoted unchanged to
the next level (which gives exactly RFC 6962's MTH). The root of zero leaves is SHA-256("").

An inclusion proof of leaf `index` among `count` leaves lists, from the leaf up, the sibling of
each level where the node has one: `("L", hex)` when the sibling is on the left, `("R", hex)`
on the right. Levels where the node is promoted contribute nothing. The sides are implied by
(`index`, `count`); `verify_proof` recomputes them and refuses a proof whose sides disagree, so
a proof cannot be replayed for another position.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final, Literal

Side = Literal["L", "R"]
ProofStep = tuple[Side, str]

EMPTY_ROOT: Final = hashlib.sha256(b"").digest()


def leaf_hash(line: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + line).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def leaf_hashes(lines: Sequence[bytes]) -> list[bytes]:
    sha256 = hashlib.sha256
    return [sha256(b"\x00" + line).digest() for line in lines]


def parent_level(level: Sequence[bytes]) -> list[bytes]:
    """The next level up: one hash per pair, the odd last node promoted."""
    sha256 = hashlib.sha256
    # zip of the even and odd slices pairs them in C (measured faster than indexing, or than
    # slicing one joined buffer); an odd last node has no partner and is left out by zip.
    pairs = zip(level[0::2], level[1::2], strict=False)
    parents = [sha256(b"\x01" + left + right).digest() for left, right in pairs]
    if len(level) % 2:
        parents.append(level[-1])
    return parents


def root_of_hashes(hashes: Sequence[bytes]) -> bytes:
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:
        level = parent_level(level)
    return level[0]


def merkle_root(lines: Sequence[bytes]) -> bytes:
    """The root over `lines` (the leaves' data: canonical lines)."""
    return root_of_hashes(leaf_hashes(lines))


class MerkleTree:
    """Every level of the tree, kept for proofs of many leaves (one proof alone:
    `merkle_proof`)."""

    def __init__(self, lines: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [leaf_hashes(lines)]
        while len(self.levels[-1]) > 1:
            self.levels.append(parent_level(self.levels[-1]))

    @property
    def count(self) -> int:
        return len(self.levels[0])

    @property
    def root(self) -> bytes:
        return self.levels[-1][0] if self.count else EMPTY_ROOT

    def proof(self, index: int) -> list[ProofStep]:
        if not 0 <= index < self.count:
            raise IndexError(f"leaf {index} of {self.count}")
        steps: list[ProofStep] = []
        position = index
        for level in self.levels[:-1]:
            if position % 2:
                steps.append(("L", level[position - 1].hex()))
            elif position + 1 < len(level):
                steps.append(("R", level[position + 1].hex()))
            position //= 2
        return steps


def merkle_proof(lines: Sequence[bytes], index: int) -> list[ProofStep]:
    return MerkleTree(lines).proof(index)


def verify_proof(
    line: bytes, index: int, count: int, proof: Sequence[Sequence[str]], root: bytes | str
) -> bool:
    """Whether `line` is leaf `index` of a tree of `count` leaves with this `root` (bytes or
    hex). `proof`: `merkle_proof`'s steps (tuples, or two-item lists as read from JSON)."""
    expected = bytes.fromhex(root) if isinstance(root, str) else root
    if not 0 <= index < count:
        return False
    node = leaf_hash(line)
    position, width, used = index, count, 0
    while width > 1:
        if position % 2 or position + 1 < width:
            if used == len(proof):
                return False
            step = proof[used]
            used += 1
            side = "L" if position % 2 else "R"
            if len(step) != 2 or step[0] != side:
                return False
            try:
                sibling = bytes.fromhex(step[1])
            except (TypeError, ValueError):
                return False
            if len(sibling) != 32:
                return False
            node = node_hash(sibling, node) if side == "L" else node_hash(node, sibling)
        position //= 2
        width = (width + 1) // 2
    return used == len(proof) and node == expected
