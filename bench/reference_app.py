"""The reference endpoint: the thinnest app this stack allows that moves money over HTTP.

One route, `POST /transfer` (`{"debit": n, "credit": m, "amount": cents}` between two of the
benchmark's wallets, `Idempotency-Key` header), doing one `SELECT ledger.transfer(...)` in
autocommit on a connection of a psycopg pool, answering the transfer's id as JSON. FastAPI
with a pydantic body, served by uvicorn as `creatorhub serve` serves the product (uvloop and
httptools when installed, `--workers N` processes). No authentication, middleware, ORM,
idempotency table or audit row: the floor under which no endpoint of ours can go on this
stack, and what the HTTP section divides the product's figures by. Not part of the product.

    python -m bench.reference_app --database-url URL --port 8793 [--workers 2]

The wallets are those bench/ledger.py sets up (`setup_accounts`).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import uvicorn
from fastapi import FastAPI, Header
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from bench.ledger import CURRENCY, WALLETS, wallet_id
from creatorhub.db import libpq_url

DATABASE_ENV = "BENCH_REFERENCE_DATABASE_URL"
# The product's pool per process: `db_pool_size` (20) connections, kept open.
POOL_MIN, POOL_MAX = 20, 20
TRANSFER = (
    "SELECT transfer_id FROM ledger.transfer(%s::uuid, %s::uuid, %s, 'bench_http_transfer', %s, %s)"
)


class TransferIn(BaseModel):
    debit: int = Field(ge=1, le=WALLETS)
    credit: int = Field(ge=1, le=WALLETS)
    amount: int = Field(gt=0, le=10**9)


class TransferOut(BaseModel):
    transfer_id: str


def create_app() -> FastAPI:
    """The app, on the database named by BENCH_REFERENCE_DATABASE_URL (uvicorn's factory)."""
    pool = AsyncConnectionPool(
        libpq_url(os.environ[DATABASE_ENV]),
        min_size=POOL_MIN,
        max_size=POOL_MAX,
        kwargs={"autocommit": True},  # one statement, one round trip: no BEGIN, no COMMIT
        open=False,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True)
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/transfer")
    async def transfer(
        body: TransferIn,
        idempotency_key: Annotated[str, Header(min_length=1, max_length=200)],
    ) -> TransferOut:
        async with pool.connection() as conn:
            cursor = await conn.execute(
                TRANSFER,
                (
                    wallet_id(body.debit),
                    wallet_id(body.credit),
                    body.amount,
                    idempotency_key,
                    CURRENCY,
                ),
            )
            row = await cursor.fetchone()
        if row is None:  # ledger.transfer returns one row or raises
            raise RuntimeError("ledger.transfer returned no row")
        return TransferOut(transfer_id=str(row[0]))

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        async with pool.connection() as conn:
            await conn.execute("SELECT 1")
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reference_app")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8793)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    # uvicorn's app processes build the app from the environment, as the product's do.
    os.environ[DATABASE_ENV] = args.database_url
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_config": None,
        "access_log": False,
        "proxy_headers": True,
    }
    if args.workers == 1:
        uvicorn.run(create_app(), **options)
    else:
        uvicorn.run("bench.reference_app:create_app", factory=True, workers=args.workers, **options)


if __name__ == "__main__":
    main()
