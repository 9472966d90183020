"""pytest plugin: local stand-ins for Stripe (`pytest_plugins = ["payments.stripe_servers"]`).

* `localstripe` (session): the localstripe emulator (a dev dependency) as a subprocess on a free
  127.0.0.1 port; its base URL in `.url`, its output in `.log`. It starts empty and with its
  persistence turned off: it would otherwise pickle its whole store to the fixed path
  /tmp/localstripe.pickle on every write, which is slow and shared by every localstripe on the
  machine. If it is missing or cannot be started, its tests skip, saying why (in CI they fail:
  `make test` installs it, see `components.require_component`).
* `fake_connect` (session): our small, stateful fake of the Connect endpoints localstripe lacks
  (accounts, account links, transfers), an aiohttp app on the session's event loop. It answers
  Stripe-shaped JSON, requires a `Bearer sk_...` key and honours `Idempotency-Key` on every POST
  as Stripe does (same key and parameters: the first answer again, with `Idempotent-Replayed`;
  same key, other parameters: 400 `idempotency_error`). Visiting an onboarding link completes
  the account's onboarding and redirects to its `return_url`, as Stripe's hosted flow would.
  `fail_next(status)` makes the next request(s) fail, for the retry and error tests.
  It also serves a minimal PaymentIntent API (create, retrieve, update with a payment method,
  confirm), so the app configured with the Stripe provider can be pointed at it whole. Its hang
  switch, `hang()` and `release()`, holds every request (after recording it) until released:
  a provider that does not answer, for the tests showing no call runs inside a transaction.
* `webhook_receiver` (session): an aiohttp endpoint registered with localstripe
  (`POST /_config/webhooks/{id}`) that records the events localstripe delivers, signed with
  the `stripe_webhook_secret` fixture's secret (override it to choose another).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from components import require_component

API_KEY = "sk_test_creatorhub"  # for readiness checks; localstripe and the fake take any sk_ key
LOCALSTRIPE_START_TIMEOUT = 15.0
DELIVERY_TIMEOUT = 10.0
HANG_WAIT = 10.0  # how long a test waits for a request to reach the hang switch

# localstripe's server (`localstripe.server.app`) run as its `start()` would with
# `--from-scratch`, except: no on-disk persistence (see the module docstring), and bound to
# 127.0.0.1 only (`start()` binds `::`, which fails where IPv6 is off) without an access log.
_LOCALSTRIPE_LAUNCHER = """
import sys
import localstripe.resources
localstripe.resources.Store.dump_to_disk = lambda self: None
from aiohttp import web
from localstripe.server import app
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""
_START_ATTEMPTS = 3  # a new port each time, should another process take the free one first


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_until_answering(process: subprocess.Popen[bytes], url: str) -> str | None:
    """None once localstripe answers, else why it did not."""
    deadline = time.monotonic() + LOCALSTRIPE_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"it exited with status {process.returncode}"
        try:
            response = httpx.get(
                f"{url}/v1/balance", headers={"Authorization": f"Bearer {API_KEY}"}
            )
        except httpx.TransportError:
            time.sleep(0.05)
            continue
        if response.status_code == 200:
            return None
        return f"GET /v1/balance answered {response.status_code}"
    return f"it did not answer on {url} within {LOCALSTRIPE_START_TIMEOUT} s"


@dataclass(frozen=True)
class LocalStripe:
    url: str
    log: Path


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    try:
        import localstripe as _localstripe  # noqa: F401
    except ImportError:
        require_component("localstripe", "not installed (pip install -e '.[dev]')")
    log = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    problem = "not started"
    for _ in range(_START_ATTEMPTS):
        url = f"http://127.0.0.1:{_free_port()}"
        with log.open("ab") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-c", _LOCALSTRIPE_LAUNCHER, url.rsplit(":", 1)[1]],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        try:
            problem = _wait_until_answering(process, url) or ""
            if not problem:
                yield LocalStripe(url=url, log=log)
                return
        finally:
            _stop(process)
    require_component(
        "localstripe",
        f"could not be started: {problem}; its output:\n{log.read_text(errors='replace')[-2000:]}",
    )


# --- the fake Connect server -------------------------------------------------------------------


def _unflatten(pairs: Iterator[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][c]=v`, `a[0]=v`) back into nested dicts (lists as dicts)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        head, *rest = re.findall(r"[^\[\]]+", key)
        node = result
        path = [head, *rest]
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return result


def _error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    error_type: str = "invalid_request_error",
) -> web.Response:
    body: dict[str, Any] = {"type": error_type, "message": message}
    if code:
        body["code"] = code
    if param:
        body["param"] = param
    return web.json_response({"error": body}, status=status)


def _id(prefix: str) -> str:
    return prefix + secrets.token_hex(8)


@dataclass
class FakeConnect:
    """The fake's state, readable (and adjustable) by the tests."""

    url: str = ""
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    account_links: list[dict[str, Any]] = field(default_factory=list)
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # every request: (method, path, Idempotency-Key or None)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    _idempotent: dict[tuple[str, str], tuple[dict[str, Any], int, bytes]] = field(
        default_factory=dict
    )
    payment_intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    _failures: list[int] = field(default_factory=list)
    _links: dict[str, dict[str, Any]] = field(default_factory=dict)
    _open: asyncio.Event | None = None
    held: int = 0  # requests waiting on the hang switch now
    _held_changed: asyncio.Condition | None = None

    def hang(self) -> None:
        """Hold every request from now on, until `release()`: a provider that does not answer."""
        self._gate().clear()

    def release(self) -> None:
        self._gate().set()

    def _gate(self) -> asyncio.Event:
        if self._open is None:
            self._open = asyncio.Event()
            self._open.set()
        return self._open

    async def wait_until_held(self, count: int = 1) -> None:
        """Until `count` requests wait on the hang switch (at most HANG_WAIT seconds)."""
        changed = self._held_condition()
        async with asyncio.timeout(HANG_WAIT), changed:
            await changed.wait_for(lambda: self.held >= count)

    def _held_condition(self) -> asyncio.Condition:
        if self._held_changed is None:
            self._held_changed = asyncio.Condition()
        return self._held_changed

    async def _count_held(self, change: int) -> None:
        changed = self._held_condition()
        async with changed:
            self.held += change
            changed.notify_all()

    def fail_next(self, status: int, times: int = 1) -> None:
        self._failures.extend([status] * times)

    def clear_failures(self) -> None:
        self._failures.clear()

    def complete_onboarding(self, account_id: str) -> None:
        account = self.accounts[account_id]
        account.update(details_submitted=True, charges_enabled=True, payouts_enabled=True)
        account["capabilities"] = dict.fromkeys(account["capabilities"], "active")
        account["requirements"] = {"currently_due": [], "disabled_reason": None}

    def transfers_with_key(self, idempotency_key: str) -> list[tuple[str, str, str | None]]:
        return [r for r in self.requests if r[1] == "/v1/transfers" and r[2] == idempotency_key]

    # --- handlers ---

    def _create_account(self, params: dict[str, Any]) -> web.Response:
        if params.get("type") not in ("express", "standard", "custom"):
            return _error(400, "Invalid type", param="type")
        country = params.get("country", "US")
        if not re.fullmatch(r"[A-Z]{2}", country):
            return _error(400, f"Country '{country}' is unknown.", param="country")
        requested = params.get("capabilities") or {}
        account = {
            "id": _id("acct_"),
            "object": "account",
            "type": params["type"],
            "email": params.get("email"),
            "country": country,
            "default_currency": "usd" if country == "US" else "eur",
            "capabilities": {
                name: "inactive"
                for name, wanted in requested.items()
                if wanted.get("requested") == "true"
            },
            "charges_enabled": False,
            "payouts_enabled": False,
            "details_submitted": False,
            "requirements": {
                "currently_due": ["business_type", "external_account", "tos_acceptance.date"],
                "disabled_reason": "requirements.past_due",
            },
            "metadata": params.get("metadata") or {},
            "created": int(time.time()),
            "livemode": False,
        }
        self.accounts[account["id"]] = account
        return web.json_response(account)

    def _create_account_link(self, params: dict[str, Any]) -> web.Response:
        account_id = params.get("account")
        if account_id not in self.accounts:
            return _error(
                400, f"No such account: '{account_id}'", code="resource_missing", param="account"
            )
        if params.get("type") not in ("account_onboarding", "account_update"):
            return _error(400, "Invalid type", param="type")
        for name in ("return_url", "refresh_url"):
            if not params.get(name):
                return _error(400, f"Missing required param: {name}.", param=name)
        token = secrets.token_urlsafe(12)
        now = int(time.time())
        link = {
            "object": "account_link",
            "created": now,
            "expires_at": now + 300,
            "url": f"{self.url}/setup/e/{account_id}/{token}",
        }
        self._links[token] = {"account": account_id, **params}
        self.account_links.append({**link, "account": account_id, "type": params["type"]})
        return web.json_response(link)

    def _create_transfer(self, params: dict[str, Any]) -> web.Response:
        try:
            amount = int(params.get("amount", ""))
        except ValueError:
            return _error(400, "Invalid integer", param="amount")
        if amount <= 0:
            return _error(400, "Amount must be positive", param="amount")
        if not params.get("currency"):
            return _error(400, "Missing required param: currency.", param="currency")
        destination = params.get("destination")
        account = self.accounts.get(str(destination))
        if account is None:
            return _error(
                400,
                f"No such destination: '{destination}'",
                code="resource_missing",
                param="destination",
            )
        if account["capabilities"].get("transfers") != "active":
            return _error(
                400,
                "Your destination account needs to have at least one of the following "
                "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                code="insufficient_capabilities_for_transfer",
                param="destination",
            )
        transfer = {
            "id": _id("tr_"),
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "currency": params["currency"],
            "destination": destination,
            "transfer_group": params.get("transfer_group"),
            "metadata": params.get("metadata") or {},
            "reversed": False,
            "created": int(time.time()),
            "livemode": False,
        }
        self.transfers[transfer["id"]] = transfer
        return web.json_response(transfer)

    def _create_payment_intent(self, params: dict[str, Any]) -> web.Response:
        try:
            amount = int(params.get("amount", ""))
        except ValueError:
            return _error(400, "Invalid integer", param="amount")
        intent = {
            "id": _id("pi_"),
            "object": "payment_intent",
            "amount": amount,
            "currency": params.get("currency"),
            "status": "requires_payment_method",
            "client_secret": _id("pi_secret_"),
            "metadata": params.get("metadata") or {},
            "payment_method": None,
            "last_payment_error": None,
            "created": int(time.time()),
            "livemode": False,
        }
        intent["client_secret"] = f"{intent['id']}_secret_{secrets.token_hex(8)}"
        self.payment_intents[intent["id"]] = intent
        return web.json_response(intent)

    def _update_payment_intent(self, intent_id: str, params: dict[str, Any]) -> web.Response:
        intent = self.payment_intents.get(intent_id)
        if intent is None:
            return _error(404, f"No such payment_intent: '{intent_id}'", code="resource_missing")
        if params.get("payment_method"):
            intent.update(payment_method=params["payment_method"], status="requires_confirmation")
        return web.json_response(intent)

    def _confirm_payment_intent(self, intent_id: str) -> web.Response:
        intent = self.payment_intents.get(intent_id)
        if intent is None:
            return _error(404, f"No such payment_intent: '{intent_id}'", code="resource_missing")
        if intent["status"] != "requires_confirmation":
            return _error(400, f"This PaymentIntent's status is {intent['status']}.")
        intent["status"] = "succeeded"
        return web.json_response(intent)

    def _post(self, path: str, params: dict[str, Any]) -> web.Response:
        if path == "/v1/payment_intents":
            return self._create_payment_intent(params)
        intent_path = re.fullmatch(r"/v1/payment_intents/(\w+)(/confirm)?", path)
        if intent_path and intent_path[2]:
            return self._confirm_payment_intent(intent_path[1])
        if intent_path:
            return self._update_payment_intent(intent_path[1], params)
        if path == "/v1/accounts":
            return self._create_account(params)
        if path == "/v1/account_links":
            return self._create_account_link(params)
        if path == "/v1/transfers":
            return self._create_transfer(params)
        return _error(404, f"Unrecognized request URL (POST: {path}).")

    def _get(self, path: str) -> web.Response:
        match = re.fullmatch(r"/v1/(accounts|transfers|payment_intents)/([\w]+)", path)
        if match:
            collection = {
                "accounts": self.accounts,
                "transfers": self.transfers,
                "payment_intents": self.payment_intents,
            }[match[1]]
            obj = collection.get(match[2])
            if obj is None:
                return _error(
                    404,
                    f"No such {match[1][:-1]}: '{match[2]}'",
                    code="resource_missing",
                    param="id",
                )
            return web.json_response(obj)
        return _error(404, f"Unrecognized request URL (GET: {path}).")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        self.requests.append((request.method, request.path, key))
        gate = self._gate()
        if not gate.is_set():
            await self._count_held(+1)
            try:
                await gate.wait()
            finally:
                await self._count_held(-1)
        onboarding = re.fullmatch(r"/setup/e/(\w+)/([\w-]+)", request.path)
        if request.method == "GET" and onboarding:
            link = self._links.get(onboarding[2])
            if link is None or link["account"] != onboarding[1]:
                return web.Response(status=404, text="This link has expired.")
            self.complete_onboarding(onboarding[1])
            raise web.HTTPFound(link["return_url"])
        auth = request.headers.get("Authorization", "")
        api_key = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or not api_key.startswith("sk_"):
            return _error(401, "Invalid API Key provided.")
        if self._failures:
            status = self._failures.pop(0)
            return _error(
                status,
                f"Injected failure {status}.",
                error_type="api_error" if status >= 500 else "invalid_request_error",
                code="rate_limit" if status == 429 else None,
            )
        if request.method == "GET":
            return self._get(request.path)
        if request.method != "POST":
            return _error(405, "Method not allowed.")
        params = _unflatten(iter((await request.post()).items()))
        scope = (api_key, key) if key else None
        if scope is not None and scope in self._idempotent:
            first_params, status, body = self._idempotent[scope]
            if first_params != {"path": request.path, **params}:
                return _error(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                    error_type="idempotency_error",
                )
            return web.Response(
                status=status,
                body=body,
                content_type="application/json",
                headers={"Idempotent-Replayed": "true", "Idempotency-Key": key or ""},
            )
        response = self._post(request.path, params)
        if scope is not None and response.status < 500:
            assert isinstance(response.body, bytes)
            self._idempotent[scope] = (
                {"path": request.path, **params},
                response.status,
                response.body,
            )
        return response


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@pytest.fixture(scope="session")
async def fake_connect() -> AsyncIterator[FakeConnect]:
    fake = FakeConnect()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner, fake.url = await _serve(app)
    try:
        yield fake
    finally:
        await runner.cleanup()


# --- webhooks delivered by localstripe ---------------------------------------------------------


@dataclass
class Delivery:
    body: bytes
    headers: Mapping[str, str]

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event


@dataclass
class WebhookReceiver:
    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.Response:
        delivery = Delivery(body=await request.read(), headers=dict(request.headers))
        async with self._arrived:
            self.deliveries.append(delivery)
            self._arrived.notify_all()
        return web.Response(text="ok")

    async def wait_for(self, event_type: str, object_id: str) -> Delivery:
        """The delivery of `event_type` about `object_id` (localstripe sends 1 s after the fact)."""

        def found() -> Delivery | None:
            for delivery in self.deliveries:
                event = delivery.event
                if event["type"] == event_type and event["data"]["object"]["id"] == object_id:
                    return delivery
            return None

        async with asyncio.timeout(DELIVERY_TIMEOUT), self._arrived:
            await self._arrived.wait_for(found)
        delivery = found()
        assert delivery is not None
        return delivery


_receiver_ids = itertools.count(1)


@pytest.fixture(scope="session")
def stripe_webhook_secret() -> str:
    return "whsec_creatorhub_localstripe_tests"


@pytest.fixture(scope="session")
async def webhook_receiver(
    localstripe: LocalStripe, stripe_webhook_secret: str
) -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    app = web.Application()
    app.router.add_post("/stripe/webhooks", receiver.handle)
    runner, base = await _serve(app)
    receiver.url = f"{base}/stripe/webhooks"
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{localstripe.url}/_config/webhooks/creatorhub-{os.getpid()}-{next(_receiver_ids)}",
            json={
                "url": receiver.url,
                "secret": stripe_webhook_secret,
                "events": ["payment_intent.succeeded", "payment_intent.payment_failed"],
            },
        )
        response.raise_for_status()
    try:
        yield receiver
    finally:
        await runner.cleanup()
