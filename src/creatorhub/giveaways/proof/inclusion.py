"""An entrant's self-check: their own lines, proven part of the committed ENTRIES.

`inclusion_proof` gives, for each entry of a username, its index, its canonical line, its
Merkle proof against the committed root and what became of it in the certificate: `eligible`,
`excluded:<reason>`, `winner:<rank>` or `alternate:<rank>`. `verify_inclusion` checks one
such item against a certificate: anyone can do it with the line, the proof and the root.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from creatorhub.giveaways.proof.canonical import normalize_username
from creatorhub.giveaways.proof.merkle import MerkleTree, verify_proof
from creatorhub.giveaways.proof.table import EntryTable, parse_entries


def entry_status(certificate: Mapping[str, Any], index: int) -> str:
    for pick in certificate["winners"]:
        if pick["index"] == index:
            return f"winner:{pick['rank']}"
    for pick in certificate["alternates"]:
        if pick["index"] == index:
            return f"alternate:{pick['rank']}"
    for excluded, code in certificate["excluded"]:
        if excluded == index:
            return f"excluded:{code}"
    return "eligible"


def inclusion_proof(
    entries: EntryTable | bytes, username: str, certificate: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The entries of `username` (normalized here) with proofs; [] if they have none."""
    table = entries if isinstance(entries, EntryTable) else parse_entries(entries)
    name = normalize_username(username)
    indices = [i for i, entrant in enumerate(table.username) if entrant == name]
    if not indices:
        return []
    tree = MerkleTree(table.lines)
    return [
        {
            "index": index,
            "line": table.lines[index].decode("utf-8"),
            "proof": [list(step) for step in tree.proof(index)],
            "status": entry_status(certificate, index),
        }
        for index in indices
    ]


def verify_inclusion(item: Mapping[str, Any], certificate: Mapping[str, Any]) -> bool:
    """Whether `item` (from `inclusion_proof`) is in the ENTRIES the certificate committed,
    with the status the certificate gives it (check the certificate itself with
    `verify.verify_certificate`)."""
    commitment = certificate["commitment"]
    if item["status"] != entry_status(certificate, item["index"]):
        return False
    return verify_proof(
        item["line"].encode("utf-8"),
        item["index"],
        commitment["entries_count"],
        item["proof"],
        commitment["entries_root"],
    )
