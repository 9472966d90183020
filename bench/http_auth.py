"""Benchmark: the cost of authentication on a request, as a ratio to a bare endpoint.

Starts `creatorhub serve` (embedded PostgreSQL in a temporary directory, or DATABASE_URL), then
drives it from this process with a fixed number of concurrent keep-alive clients:

* reference: `GET /healthz` (routing, middleware, JSON; no database),
* `GET /readyz` (one pooled round trip to PostgreSQL),
* `GET /v1/me` (token lookup joined with its session and user, profile reads),
* `POST /v1/auth/refresh` (row locks, two token inserts, one update: a write transaction).

Reported: requests per second and p50/p99 latency for each, and each one's throughput as a
ratio of the reference measured in the same run. Usage:

    .venv/bin/python bench/http_auth.py [--seconds 5] [--clients 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

PASSWORD = "bench passphrase 2026"


async def wait_ready(base: str, within_seconds: float = 60.0) -> None:
    deadline = time.monotonic() + within_seconds
    async with httpx.AsyncClient(base_url=base) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not become ready")


async def drive(
    clients: int,
    seconds: float,
    make_request: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    base: str,
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    errors = 0

    async def one_client(index: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            while time.monotonic() < stop:
                started = time.perf_counter()
                response = await make_request(client, index)
                latencies.append(time.perf_counter() - started)
                if response.status_code >= 400:
                    errors += 1

    began = time.monotonic()
    await asyncio.gather(*(one_client(i) for i in range(clients)))
    elapsed = time.monotonic() - began
    if errors:
        raise RuntimeError(f"{errors} requests failed")
    return len(latencies) / elapsed, latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def main(seconds: float, clients: int, port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base) as setup:
        tokens = []
        for index in range(clients):
            email = f"bench{index}-{os.getpid()}@example.com"
            r = await setup.post(
                "/v1/auth/register",
                json={"email": email, "password": PASSWORD, "display_name": "Bench"},
            )
            r.raise_for_status()
            r = await setup.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
            r.raise_for_status()
            tokens.append(r.json())

    async def healthz(client: httpx.AsyncClient, index: int) -> httpx.Response:
        return await client.get("/healthz")

    async def readyz(client: httpx.AsyncClient, index: int) -> httpx.Response:
        return await client.get("/readyz")

    async def me(client: httpx.AsyncClient, index: int) -> httpx.Response:
        return await client.get(
            "/v1/me", headers={"Authorization": f"Bearer {tokens[index]['access_token']}"}
        )

    async def refresh(client: httpx.AsyncClient, index: int) -> httpx.Response:
        response = await client.post(
            "/v1/auth/refresh", json={"refresh_token": tokens[index]["refresh_token"]}
        )
        if response.status_code == 200:
            tokens[index] = response.json()
        return response

    await drive(clients, 1.0, healthz, base)  # warm-up: connections, caches, JIT-less paths
    results = {}
    for name, request in [
        ("GET /healthz (reference)", healthz),
        ("GET /readyz", readyz),
        ("GET /v1/me", me),
        ("POST /v1/auth/refresh", refresh),
    ]:
        results[name] = await drive(clients, seconds, request, base)

    reference = results["GET /healthz (reference)"][0]
    print(f"\n{clients} concurrent clients, {seconds:.0f} s each, one server process\n")
    print(f"{'endpoint':<28}{'req/s':>9}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}")
    for name, (rate, latencies) in results.items():
        print(
            f"{name:<28}{rate:>9.0f}{rate / reference:>8.2f}"
            f"{statistics.median(latencies) * 1000:>9.1f}{percentile(latencies, 0.99) * 1000:>9.1f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "CREATORHUB_DATA_DIR": data_dir,
            "CREATORHUB_LOG_LEVEL": "WARNING",
            "CREATORHUB_LOGIN_MAX_ATTEMPTS_PER_IP": "100000",
            "CREATORHUB_REGISTER_MAX_PER_IP": "100000",
        }
        creatorhub = Path(sys.executable).with_name("creatorhub")
        server = subprocess.Popen(
            [str(creatorhub), "serve", "--port", str(args.port), "--no-worker"],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            asyncio.run(wait_ready(f"http://127.0.0.1:{args.port}"))
            asyncio.run(main(args.seconds, args.clients, args.port))
        finally:
            server.terminate()
            server.wait(timeout=30)
