"""Platform HTTP behaviour: health, readiness, metrics, request ids, problem responses."""

from __future__ import annotations

import re

import httpx

from helpers import assert_problem


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_every_response_has_a_request_id_and_a_sane_one_is_kept(
    client: httpx.AsyncClient,
) -> None:
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    kept = await client.get("/healthz", headers={"X-Request-ID": "trace-abc.123"})
    assert kept.headers["x-request-id"] == "trace-abc.123"
    replaced = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert replaced.headers["x-request-id"] != "bad id\twith spaces"


async def test_unknown_route_and_method_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/nothing-here"), 404, "not_found")
    assert_problem(await client.delete("/v1/auth/login"), 405, "method_not_allowed")


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/v1/users/00000000-0000-0000-0000-000000000000")
    await client.get("/healthz")
    text = (await client.get("/metrics")).text
    assert 'route="/v1/users/{user_id}"' in text
    assert "00000000-0000-0000-0000-000000000000" not in text
    assert "creatorhub_http_request_duration_seconds_bucket" in text


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/v1/auth/login" in spec["paths"]
    assert all(path.startswith(("/v1/", "/healthz", "/readyz")) for path in spec["paths"])
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_api_docs_need_no_internet(client: httpx.AsyncClient) -> None:
    """A self-hosted server may have no way out: the docs pages load only the server's assets."""
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets, html
        assert not [url for url in assets if url.startswith(("http:", "https:", "//"))], assets
        for url in assets:
            if url.startswith("/static/"):
                asset = await client.get(url)
                assert asset.status_code == 200, url
                assert len(asset.content) > 1000, url
