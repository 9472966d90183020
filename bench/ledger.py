"""The ledger's side of the benchmark: accounts to move money between, pgbench scripts, batches.

Setup (once per run): 1,000 user wallets (may not go negative), 16 platform fee shards and one
provider clearing account (may go negative), inserted with ids derived from an integer so that
a pgbench script computes an account id from `random(1, 1000)` without a lookup. The ids are
inserted directly (setup only: `ledger.ensure_account` picks its own ids); the wallets are then
funded through the ledger itself, one `ledger.apply_transfers` call of 1,000 transfers from the
clearing account, so the balance chain and the invariants hold from the first entry on.

Each pgbench script is one statement per transaction (autocommit), the way the platform calls the
ledger: one round trip to a PL/pgSQL function. Hold + post is two autocommit statements, the way
a hold is created and posted later in two transactions of their own.
"""

from __future__ import annotations

import json
import random
import statistics
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from creatorhub.db import libpq_url
from creatorhub.ledger.models import PLATFORM_OWNER_ID

WALLETS = 1000
FEE_SHARDS = 16
CURRENCY = "USD"
OPENING_BALANCE = 10**12  # cents each: no transfer of the run is ever refused for funds

WALLET_PREFIX = "00000000-0000-4000-8000-"
FEE_PREFIX = "00000000-0000-4000-8001-"
CLEARING_ID = "00000000-0000-4000-8002-000000000000"


def wallet_id(n: int) -> str:
    return f"{WALLET_PREFIX}{n:012x}"


def fee_id(shard: int) -> str:
    return f"{FEE_PREFIX}{shard:012x}"


def setup_accounts(url: str) -> None:
    """The wallets, fee shards and clearing account, and the wallets' opening balances."""
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(
            """INSERT INTO ledger.accounts (id, owner_type, owner_id, kind, currency)
               SELECT (%(prefix)s || lpad(to_hex(n), 12, '0'))::uuid, 'user',
                      (%(prefix)s || lpad(to_hex(n), 12, '0'))::uuid, 'wallet_available',
                      %(currency)s
                 FROM generate_series(1, %(wallets)s) n""",
            {"prefix": WALLET_PREFIX, "currency": CURRENCY, "wallets": WALLETS},
        )
        conn.execute(
            """INSERT INTO ledger.accounts (id, owner_type, owner_id, kind, currency, shard)
               SELECT (%(prefix)s || lpad(to_hex(s), 12, '0'))::uuid, 'platform', %(owner)s,
                      'platform_fees', %(currency)s, s
                 FROM generate_series(0, %(shards)s - 1) s""",
            {
                "prefix": FEE_PREFIX,
                "owner": PLATFORM_OWNER_ID,
                "currency": CURRENCY,
                "shards": FEE_SHARDS,
            },
        )
        conn.execute(
            """INSERT INTO ledger.accounts
                   (id, owner_type, owner_id, kind, currency, allow_negative)
               VALUES (%s, 'platform', %s, 'provider_clearing', %s, true)""",
            (CLEARING_ID, PLATFORM_OWNER_ID, CURRENCY),
        )
        funding = [
            {
                "debit_account_id": CLEARING_ID,
                "credit_account_id": wallet_id(n),
                "amount": OPENING_BALANCE,
                "kind": "funding",
                "idempotency_key": f"bench-opening-{n}",
            }
            for n in range(1, WALLETS + 1)
        ]
        conn.execute(
            "SELECT count(*) FROM ledger.apply_transfers(%s::jsonb)", (json.dumps(funding),)
        )
        conn.execute("ANALYZE ledger.accounts")


# --- pgbench scripts ----------------------------------------------------------------------


def _account_sql(prefix: str, variable: str) -> str:
    return f"'{prefix}' || lpad(to_hex(:{variable}), 12, '0')"


# Two distinct random wallets: b is a shifted by 1..999 places, modulo 1,000.
_PAIR = f"""\\set a random(1, {WALLETS})
\\set shift random(1, {WALLETS - 1})
\\set b 1 + (:a + :shift - 1) % {WALLETS}
\\set amount random(100, 10000)
"""


def _transfer_json(debit: str, credit: str, amount: str, kind: str) -> str:
    return (
        f"jsonb_build_object('debit_account_id', {debit}, 'credit_account_id', {credit}, "
        f"'amount', {amount}, 'kind', '{kind}', 'currency', '{CURRENCY}', "
        "'idempotency_key', gen_random_uuid()::text)"
    )


def transfer_script() -> str:
    """One transfer between two random wallets, through `ledger.transfer` (the service's path)."""
    debit = f"CAST({_account_sql(WALLET_PREFIX, 'a')} AS uuid)"
    credit = f"CAST({_account_sql(WALLET_PREFIX, 'b')} AS uuid)"
    # A pgbench script, built from this module's constants.
    return (
        f"{_PAIR}SELECT count(*) FROM ledger.transfer(\n"  # noqa: S608
        f"  {debit}, {credit}, :amount, 'bench_transfer', gen_random_uuid()::text, '{CURRENCY}');\n"
    )


def transfer_with_fee_script(shards: int) -> str:
    """A payment and its platform fee, atomically (`ledger.transfer_with_fee`, as
    `payments.earnings.pay_earnings` does): payer → payee gross, payee → fee shard fee."""
    debit = f"CAST({_account_sql(WALLET_PREFIX, 'a')} AS uuid)"
    credit = f"CAST({_account_sql(WALLET_PREFIX, 'b')} AS uuid)"
    fee_account = f"CAST({_account_sql(FEE_PREFIX, 'shard')} AS uuid)"
    # A pgbench script, built from this module's constants.
    return (
        f"{_PAIR}\\set fee :amount / 10\n\\set shard random(0, {shards - 1})\n"
        f"SELECT count(*) FROM ledger.transfer_with_fee(\n"
        f"  {debit}, {credit}, :amount, 'bench_payment', gen_random_uuid()::text,\n"
        f"  {fee_account}, :fee, '{CURRENCY}');\n"
    )


def apply_transfers_script(with_fee: bool) -> str:
    """The same operations through the general JSON path, `ledger.apply_transfers` (groups and
    batches use it): one transfer, or a payment and its fee (16 shards) as a group of two."""
    payment = _transfer_json(
        _account_sql(WALLET_PREFIX, "a"),
        _account_sql(WALLET_PREFIX, "b"),
        ":amount",
        "bench_payment" if with_fee else "bench_transfer",
    )
    head = _PAIR
    if with_fee:
        fee = _transfer_json(
            _account_sql(WALLET_PREFIX, "b"),
            _account_sql(FEE_PREFIX, "shard"),
            ":fee",
            "bench_fee",
        )
        head += f"\\set fee :amount / 10\n\\set shard random(0, {FEE_SHARDS - 1})\n"
        payment += f",\n  {fee}"
    call = "SELECT count(*) FROM ledger.apply_transfers(jsonb_build_array(\n  "
    return f"{head}{call}{payment}));\n"


def hold_post_script() -> str:
    """Reserve on one wallet for another, then post the hold: two autocommit statements.

    pgbench substitutes variables as raw text in the simple protocol, so the hold id comes back
    already quoted as a literal.
    """
    debit = f"CAST({_account_sql(WALLET_PREFIX, 'a')} AS uuid)"
    credit = f"CAST({_account_sql(WALLET_PREFIX, 'b')} AS uuid)"
    # A pgbench script, built from this module's constants.
    return (
        f"{_PAIR}"  # noqa: S608
        f"SELECT quote_literal(hold_id) AS hold FROM ledger.create_hold(\n"
        f"  {debit}, {credit}, :amount, 'bench_hold', gen_random_uuid()::text) \\gset\n"
        "SELECT count(*) FROM ledger.post_hold(CAST(:hold AS uuid));\n"
    )


@dataclass(frozen=True)
class Scenario:
    key: str  # the figure's name: {key}_peak_tps or {key}_peak_ops
    unit: str
    title: str
    script: str


def scenarios() -> list[Scenario]:
    return [
        Scenario("ledger_transfer", "tps", "single transfer", transfer_script()),
        Scenario(
            "ledger_transfer_with_fee",
            "tps",
            f"transfer + fee ({FEE_SHARDS} fee shards)",
            transfer_with_fee_script(FEE_SHARDS),
        ),
        Scenario(
            "ledger_transfer_with_single_fee_account",
            "tps",
            "transfer + fee (1 fee account)",
            transfer_with_fee_script(1),
        ),
        Scenario("ledger_hold_post", "ops", "hold + post cycle", hold_post_script()),
        Scenario(
            "ledger_apply_transfers_single",
            "tps",
            "apply_transfers, 1 transfer",
            apply_transfers_script(with_fee=False),
        ),
        Scenario(
            "ledger_apply_transfers_with_fee",
            "tps",
            "apply_transfers, transfer + fee",
            apply_transfers_script(with_fee=True),
        ),
    ]


def write_scripts(directory: Path) -> dict[str, Path]:
    paths: dict[str, Path] = {}
    for scenario in scenarios():
        path = directory / f"{scenario.key}.sql"
        path.write_text(scenario.script)
        paths[scenario.key] = path
    return paths


# --- batch API ----------------------------------------------------------------------------


def _random_batch(size: int, rng: random.Random) -> list[dict[str, Any]]:
    batch = []
    for _ in range(size):
        a = rng.randint(1, WALLETS)
        b = 1 + (a + rng.randint(1, WALLETS - 1) - 1) % WALLETS
        batch.append(
            {
                "debit_account_id": wallet_id(a),
                "credit_account_id": wallet_id(b),
                "amount": rng.randint(100, 10_000),
                "kind": "bench_batch",
                "currency": CURRENCY,
                "idempotency_key": str(uuid.uuid4()),
            }
        )
    return batch


@dataclass(frozen=True)
class BatchRun:
    size: int
    seconds: list[float]

    @property
    def rates(self) -> list[float]:
        return [self.size / s for s in self.seconds]

    def as_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "seconds": [round(s, 4) for s in self.seconds],
            "transfers_per_s": [round(r) for r in self.rates],
            "median_transfers_per_s": round(statistics.median(self.rates)),
            "best_transfers_per_s": round(max(self.rates)),
        }


def run_batches(url: str, sizes: tuple[int, ...], repeats: int) -> list[BatchRun]:
    """One `ledger.apply_transfers` call per batch, timed from serializing the JSON to the end
    of the COMMIT, on one connection; an unmeasured warm-up call of 500 first."""
    rng = random.Random(2026)
    runs: list[BatchRun] = []
    with psycopg.connect(libpq_url(url)) as conn:
        for size, measured in ((500, False), *((size, True) for size in sizes)):
            prepared = [_random_batch(size, rng) for _ in range(repeats if measured else 1)]
            timings = []
            for batch in prepared:
                conn.execute("CHECKPOINT")
                conn.commit()
                started = time.perf_counter()
                payload = json.dumps(batch)
                row = conn.execute(
                    "SELECT count(*) FROM ledger.apply_transfers(%s::jsonb)", (payload,)
                ).fetchone()
                conn.commit()
                timings.append(time.perf_counter() - started)
                if row is None or row[0] != size:
                    raise RuntimeError(f"batch of {size} returned {row}")
            if measured:
                runs.append(BatchRun(size, timings))
    return runs
