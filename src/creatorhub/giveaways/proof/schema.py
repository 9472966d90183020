"""The shape of a certificate, checked before any step reads it.

A verifier reads documents from anyone: every key, type and hex length is checked first, so
the steps after `parse` can index into the certificate without guarding each access (a value
of the right shape but the wrong content is then a step's failure, not a crash).
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Final


class SchemaError(ValueError):
    pass


@dataclass(frozen=True)
class Nullable:
    inner: Any


@dataclass(frozen=True)
class ListOf:
    inner: Any


@dataclass(frozen=True)
class Pair:
    first: Any
    second: Any


@dataclass(frozen=True)
class Hex:
    size: int | None  # bytes; None: any even length


class _Count:
    """A JSON integer >= 0 (not a boolean)."""


COUNT: Final = _Count()
ANY_OBJECT: Final = object()  # validated by its own step (the config)


def _scalars(values: list[Any], spec: Any) -> bool:
    if spec is COUNT:
        return set(map(type, values)) <= {int} and (not values or min(values) >= 0)
    return spec in (str, bool) and set(map(type, values)) <= {spec}


def _pairs_of_scalars(value: list[Any], spec: Pair) -> bool:
    """Whether `value` is a list of such pairs, checked column-wise in C: a certificate's
    exclusions can be a million pairs."""
    if set(map(type, value)) - {list} or set(map(len, value)) - {2}:
        return False
    return _scalars(list(map(itemgetter(0), value)), spec.first) and _scalars(
        list(map(itemgetter(1), value)), spec.second
    )


def check_shape(value: Any, spec: Any, path: str) -> None:
    if spec is ANY_OBJECT:
        if not isinstance(value, dict):
            raise SchemaError(f"{path} must be an object")
    elif isinstance(spec, Nullable):
        if value is not None:
            check_shape(value, spec.inner, path)
    elif isinstance(spec, dict):
        if not isinstance(value, dict):
            raise SchemaError(f"{path} must be an object")
        if set(value) != set(spec):
            missing, extra = sorted(set(spec) - set(value)), sorted(set(value) - set(spec))
            raise SchemaError(f"{path}: missing {missing}, unknown {extra}")
        for key, inner in spec.items():
            check_shape(value[key], inner, f"{path}.{key}")
    elif isinstance(spec, ListOf):
        if not isinstance(value, list):
            raise SchemaError(f"{path} must be a list")
        if isinstance(spec.inner, Pair) and _pairs_of_scalars(value, spec.inner):
            return  # checked in bulk; otherwise item by item below, to say which is wrong
        for number, item in enumerate(value):
            check_shape(item, spec.inner, f"{path}[{number}]")
    elif isinstance(spec, Pair):
        if not isinstance(value, list) or len(value) != 2:
            raise SchemaError(f"{path} must be a pair")
        check_shape(value[0], spec.first, f"{path}[0]")
        check_shape(value[1], spec.second, f"{path}[1]")
    elif isinstance(spec, Hex):
        if not isinstance(value, str) or value != value.lower() or len(value) % 2:
            raise SchemaError(f"{path} must be lowercase hex")
        try:
            size = len(bytes.fromhex(value))
        except ValueError:
            raise SchemaError(f"{path} must be lowercase hex") from None
        if len(value) != 2 * size or (spec.size is not None and size != spec.size):
            raise SchemaError(f"{path} must be {spec.size} bytes of hex")
    elif spec is COUNT:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SchemaError(f"{path} must be an integer >= 0")
    elif spec in (str, bool):
        if type(value) is not spec:
            raise SchemaError(f"{path} must be a {spec.__name__}")
    else:  # pragma: no cover - a mistake in the specs below
        raise TypeError(f"unknown spec {spec!r}")


HASH: Final = Hex(32)
PICK: Final = {
    "rank": COUNT,
    "index": COUNT,
    "platform": str,
    "username": str,
    "platform_user_id": str,
    "comment_id": str,
}
COMMITMENT: Final = {
    "version": COUNT,
    "draw_id": str,
    "platform": str,
    "post_ref": str,
    "host_username": str,
    "entries_count": COUNT,
    "entries_root": HASH,
    "entries_sha256": HASH,
    "config_sha256": HASH,
    "seed_sha256": HASH,
    "beacon": Nullable({"kind": str, "chain_hash": Hex(None), "round": COUNT, "url": str}),
    "committed_at": str,
}
CERTIFICATE: Final = {
    "version": COUNT,
    "commitment": COMMITMENT,
    "commitment_hash": HASH,
    "reveal": {"seed": HASH},
    "beacon": Nullable(
        {
            "kind": str,
            "chain_hash": Hex(None),
            "round": COUNT,
            "url": str,
            "randomness": HASH,
            "signature": Hex(None),
            "signature_checked": bool,
        }
    ),
    "config": ANY_OBJECT,
    "blacklist": ListOf(ANY_OBJECT),
    "attestations": ListOf({"rule": str, "status": str}),
    "counts": {"entries": COUNT, "eligible": COUNT, "excluded": ANY_OBJECT},
    "excluded": ListOf(Pair(COUNT, str)),
    "skipped": ListOf(Pair(COUNT, COUNT)),
    "winners": ListOf(PICK),
    "alternates": ListOf(PICK),
    "rerolls": ListOf(
        {
            "rank": COUNT,
            "replaced_index": COUNT,
            "alternate_index": COUNT,
            "reason": str,
            "at": str,
        }
    ),
    "issued_at": str,
    "signature": {"alg": str, "key_id": str, "public_key": Hex(32), "value": Hex(64)},
}
