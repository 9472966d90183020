"""Verifiable giveaway draws, in pure Python (no database): what is hashed, drawn and signed.

The modules, in the order of a draw:

* `canonical`: entries, their normalization and canonical JSON lines (the ENTRIES file);
* `table`: the entries column by column, parsed back from ENTRIES and checked;
* `merkle`: the Merkle root the commitment names, and inclusion proofs;
* `rules`: the config, the blacklist and the reason each excluded entry is excluded;
* `beacon`: the drand round the draw waits for;
* `drbg`: the random numbers (HMAC-SHA256) and the partial Fisher-Yates selection;
* `draw`: the commitment, the draw and rerolls;
* `certificate`: the signed record of all of it;
* `verify`, `inclusion`: checking a certificate offline, and an entrant's own entries.

Everything a verifier needs is specified in those modules' docstrings, so that another
implementation (a JavaScript one in the browser) gives the same bytes and the same winners.
"""

from creatorhub.giveaways.proof.beacon import BeaconReveal, check_beacon, choose_round
from creatorhub.giveaways.proof.canonical import (
    Entry,
    EntryError,
    Row,
    canonical_json,
    entry_line,
    normalize_entry,
    sort_entries,
)
from creatorhub.giveaways.proof.certificate import (
    build_certificate,
    certificate_bytes,
    certificate_hash,
    sign_certificate,
)
from creatorhub.giveaways.proof.draw import (
    Commitment,
    CommitmentMismatch,
    DrawResult,
    NoAlternatesLeft,
    NotEnoughEligible,
    make_commitment,
    reroll,
    run_draw,
)
from creatorhub.giveaways.proof.inclusion import inclusion_proof, verify_inclusion
from creatorhub.giveaways.proof.rules import (
    ConfigError,
    DrawConfig,
    parse_blacklist,
    parse_config,
)
from creatorhub.giveaways.proof.table import EntryTable, parse_entries
from creatorhub.giveaways.proof.verify import VerifyReport, verify_certificate

__all__ = [
    "BeaconReveal",
    "Commitment",
    "CommitmentMismatch",
    "ConfigError",
    "DrawConfig",
    "DrawResult",
    "Entry",
    "EntryError",
    "EntryTable",
    "NoAlternatesLeft",
    "NotEnoughEligible",
    "Row",
    "VerifyReport",
    "build_certificate",
    "canonical_json",
    "certificate_bytes",
    "certificate_hash",
    "check_beacon",
    "choose_round",
    "entry_line",
    "inclusion_proof",
    "make_commitment",
    "normalize_entry",
    "parse_blacklist",
    "parse_config",
    "parse_entries",
    "reroll",
    "run_draw",
    "sign_certificate",
    "sort_entries",
    "verify_certificate",
    "verify_inclusion",
]
