"""The `creatorhub` command line, run as a real subprocess on the test's database."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from creatorhub import migrate
from creatorhub.db import Database
from creatorhub.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
from creatorhub.ledger.verify import verify
from creatorhub.workspace import reviews
from creatorhub.workspace.portfolio import get_portfolio
from helpers import login, scalar
from process_helpers import command_prefix, free_port

TOP_LEVEL_COMMANDS = ["serve", "worker", "db", "demo", "user", "ledger", "keys"]
SUBCOMMANDS = {
    "db": ["upgrade", "downgrade", "current"],
    "user": ["create-admin"],
    "ledger": ["verify"],
    "keys": ["generate", "rotate"],
}
COMMAND_TIMEOUT = 120


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREATORHUB_")}
    env.update(
        {
            "DATABASE_URL": database_url,
            "CREATORHUB_ENVIRONMENT": "test",
            # Never the embedded server: if DATABASE_URL were ignored, this directory shows it.
            "CREATORHUB_DATA_DIR": str(tmp_path / "embedded-must-stay-unused"),
            "CREATORHUB_ARGON2_TIME_COST": "1",
            "CREATORHUB_ARGON2_MEMORY_KIB": "1024",
            "CREATORHUB_LOG_JSON": "false",
            "CREATORHUB_LOG_LEVEL": "WARNING",
            "NO_COLOR": "1",
            "TERM": "dumb",
            "COLUMNS": "200",
        }
    )
    return env


async def run_cli(env: dict[str, str], cwd: Path, *args: str) -> Result:
    process = await asyncio.create_subprocess_exec(
        *command_prefix(),
        *args,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(COMMAND_TIMEOUT):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Result(process.returncode, stdout.decode(), stderr.decode())


async def test_help_lists_every_command_and_each_help_exits_zero(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    invocations = [
        ["--help"],
        *([command, "--help"] for command in TOP_LEVEL_COMMANDS),
        *([group, sub, "--help"] for group, subs in SUBCOMMANDS.items() for sub in subs),
    ]
    results = await asyncio.gather(*(run_cli(cli_env, tmp_path, *args) for args in invocations))
    by_args = {tuple(args): result for args, result in zip(invocations, results, strict=True)}
    for args, result in by_args.items():
        assert result.code == 0, (args, result)
        assert "Usage:" in result.stdout, (args, result.stdout)

    main = by_args[("--help",)].stdout
    for command in TOP_LEVEL_COMMANDS:
        assert f" {command} " in main, (command, main)
    for group, subs in SUBCOMMANDS.items():
        text = by_args[(group, "--help")].stdout
        for sub in subs:
            assert f" {sub} " in text, (group, sub, text)
    assert "--email" in by_args[("user", "create-admin", "--help")].stdout
    assert not (tmp_path / "embedded-must-stay-unused").exists()


async def test_db_current_shows_the_head_revision(cli_env: dict[str, str], tmp_path: Path) -> None:
    head = migrate.head()
    result = await run_cli(cli_env, tmp_path, "db", "current")
    assert result.code == 0, result
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)
    assert lines["current"].strip() == head, result.stdout
    assert lines["head"].strip() == head, result.stdout
    assert "db upgrade" not in result.stdout
    assert not (tmp_path / "embedded-must-stay-unused").exists()


async def test_create_admin_makes_an_admin_who_can_log_in(
    cli_env: dict[str, str], tmp_path: Path, client: httpx.AsyncClient, database: Database
) -> None:
    email, password = "root@example.com", "a long admin passphrase"
    result = await run_cli(
        cli_env,
        tmp_path,
        "user",
        "create-admin",
        "--email",
        email,
        "--password",
        password,
        "--display-name",
        "Root",
    )
    assert result.code == 0, result
    assert f"administrator {email}" in result.stdout

    tokens = await login(client, email, password)
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200, me.text
    assert "admin" in me.json()["roles"]
    assert me.json()["display_name"] == "Root"
    assert me.json()["id"] in result.stdout

    # An administrator reaches the admin API.
    logs = await client.get(
        "/v1/admin/audit-logs", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert logs.status_code == 200, logs.text

    # Running it again for the same address keeps one account.
    again = await run_cli(
        cli_env, tmp_path, "user", "create-admin", "--email", email, "--password", password
    )
    assert again.code == 0, again
    assert (
        await scalar(
            database, "SELECT count(*) FROM identity.users WHERE lower(email) = :e", e=email
        )
        == 1
    )


@pytest.mark.parametrize(
    ("password", "reason"),
    [("short", "too short"), ("password123", "a known common password")],
)
async def test_create_admin_refuses_a_weak_password(
    cli_env: dict[str, str], tmp_path: Path, database: Database, password: str, reason: str
) -> None:
    email = "weak@example.com"
    result = await run_cli(
        cli_env, tmp_path, "user", "create-admin", "--email", email, "--password", password
    )
    assert result.code == 2, (reason, result)
    assert "password" in result.stderr, result
    assert (
        await scalar(
            database, "SELECT count(*) FROM identity.users WHERE lower(email) = :e", e=email
        )
        == 0
    )


async def test_create_admin_refuses_an_invalid_email(
    cli_env: dict[str, str], tmp_path: Path, database: Database
) -> None:
    result = await run_cli(
        cli_env,
        tmp_path,
        "user",
        "create-admin",
        "--email",
        "not-an-address",
        "--password",
        "a long admin passphrase",
    )
    assert result.code == 2, result
    assert "e-mail" in result.stderr
    assert await scalar(database, "SELECT count(*) FROM identity.users") == 0


# What the demo's marketplace holds: a second run must find the same.
DEMO_MARKETPLACE_COUNTS = (
    "SELECT concat_ws(','"
    ", (SELECT count(*) FROM marketplace.jobs)"
    ", (SELECT count(*) FROM marketplace.claims)"
    ", (SELECT count(*) FROM marketplace.influencer_jobs)"
    ", (SELECT count(*) FROM marketplace.content_submissions)"
    ", (SELECT count(*) FROM marketplace.escrow_transactions)"
    ", (SELECT count(*) FROM marketplace.escrow_events)"
    ", (SELECT count(*) FROM marketplace.influencer_payouts)"
    ", (SELECT count(*) FROM marketplace.influencer_logs)"
    ", (SELECT count(*) FROM marketplace.unfilled_refunds)"
    ", (SELECT count(*) FROM marketplace.joblogs)"
    ", (SELECT count(*) FROM ledger.transfers)"
    ", (SELECT count(*) FROM ledger.holds)"
    ")"
)

# What the demo creator's workspace holds, the same after a second run.
DEMO_WORKSPACE_COUNTS = (
    "SELECT concat_ws(','"
    ", (SELECT count(*) FROM workspace.shoots)"
    ", (SELECT count(*) FROM workspace.shoots WHERE completed)"
    ", (SELECT count(*) FROM workspace.uploads)"
    ", (SELECT count(*) FROM workspace.uploads WHERE completed)"
    ", (SELECT count(*) FROM workspace.calendar)"
    ", (SELECT count(*) FROM workspace.review_links)"
    ", (SELECT count(*) FROM workspace.reviews)"
    ", (SELECT count(*) FROM workspace.reviews WHERE is_published)"
    ", (SELECT count(*) FROM workspace.calendar_feeds)"
    ", (SELECT count(*) FROM audit.audit_logs)"
    ")"
)


async def test_demo_twice_creates_the_demo_accounts_once(
    cli_env: dict[str, str], tmp_path: Path, client: httpx.AsyncClient, database: Database
) -> None:
    demo_emails = sorted(account.email for account in DEMO_ACCOUNTS)
    ids_sql = "SELECT string_agg(id::text || ' ' || email, ',' ORDER BY email) FROM identity.users"

    first = await run_cli(cli_env, tmp_path, "demo")
    assert first.code == 0, first
    assert await scalar(database, "SELECT count(*) FROM identity.users") == len(DEMO_ACCOUNTS)
    ids_after_first = await scalar(database, ids_sql)
    marketplace_after_first = await scalar(database, DEMO_MARKETPLACE_COUNTS)
    workspace_after_first = await scalar(database, DEMO_WORKSPACE_COUNTS)
    review_url = re.search(r"client review link, shown only now: (\S+)", first.stdout)
    assert review_url is not None, first.stdout

    second = await run_cli(cli_env, tmp_path, "demo")
    assert second.code == 0, second
    assert await scalar(database, "SELECT count(*) FROM identity.users") == len(DEMO_ACCOUNTS)
    assert await scalar(database, ids_sql) == ids_after_first
    assert await scalar(database, DEMO_MARKETPLACE_COUNTS) == marketplace_after_first
    assert await scalar(database, DEMO_WORKSPACE_COUNTS) == workspace_after_first
    assert "shown only now" not in second.stdout  # the link is made once, and shown once
    emails = await scalar(
        database, "SELECT string_agg(lower(email), ',' ORDER BY lower(email)) FROM identity.users"
    )
    assert emails.split(",") == demo_emails
    assert "Rain jacket teaser" in second.stdout

    # The published demo password works.
    tokens = await login(client, DEMO_ACCOUNTS[0].email, DEMO_PASSWORD)
    assert tokens["access_token"]
    # Their addresses are verified, so they move money at once (unverified accounts cannot).
    unverified = "SELECT count(*) FROM identity.users WHERE email_verified_at IS NULL"
    assert await scalar(database, unverified) == 0
    brand_tokens = await login(client, "brand@creatorhub.example", DEMO_PASSWORD)
    funding = await client.post(
        "/v1/funding",
        json={"amount": 10_00, "currency": "USD"},
        headers={
            "Authorization": f"Bearer {brand_tokens['access_token']}",
            "Idempotency-Key": str(uuid.uuid4()),
        },
    )
    assert funding.status_code == 201, funding.text

    # Jobs in every state, each built once: a draft, open ones, one closed by its brand and one
    # at its end date, both with their unfilled slots refunded to the brand's wallet.
    assert (
        await scalar(
            database,
            "SELECT string_agg(status || ':' || coalesce(close_reason, '-') || '=' || n, ','"
            " ORDER BY status, close_reason)"
            " FROM (SELECT status, close_reason, count(*) AS n FROM marketplace.jobs"
            " GROUP BY status, close_reason) AS s",
        )
        == "awaiting_funding:-=1,closed:brand=1,closed:end_date=1,open:-=4"
    )
    assert (
        await scalar(
            database,
            "SELECT count(*) FROM marketplace.unfilled_refunds"
            " WHERE issued_at IS NOT NULL AND provider_refund_id IS NULL",
        )
        == 2
    )
    # Open: one without claims, one full with all content ready, and the odd budget's shares.
    assert (
        await scalar(
            database,
            "SELECT count(*) FROM marketplace.jobs WHERE status = 'open' AND claim_count = 0",
        )
        == 1
    )
    assert (
        await scalar(
            database,
            "SELECT count(*) FROM marketplace.jobs"
            " WHERE all_content_ready AND claim_count = max_slots AND status = 'open'",
        )
        == 1
    )
    assert (
        await scalar(
            database,
            "SELECT string_agg(ij.amount::text, ',' ORDER BY ij.slot_number)"
            " FROM marketplace.influencer_jobs ij JOIN marketplace.jobs j ON j.uid = ij.job_uid"
            " WHERE j.budget = 10001",
        )
        == "3334,3334,3333"
    )
    # Reviewed content: approved and paid (10 % fee), rejected with its reason, and content
    # done but never approved when a job closed at its end date.
    assert (
        await scalar(
            database,
            "SELECT string_agg(platform_fee::text, ',' ORDER BY platform_fee)"
            " FROM marketplace.influencer_payouts",
        )
        == "333,3000,3000"
    )
    assert (
        await scalar(
            database,
            "SELECT count(*) FROM marketplace.content_submissions"
            " WHERE status = 'rejected' AND review_reason <> ''",
        )
        == 1
    )
    assert (
        await scalar(
            database,
            "SELECT count(*) FROM marketplace.content_submissions WHERE status = 'submitted'",
        )
        == 5
    )
    assert await scalar(database, "SELECT count(*) FROM marketplace.influencer_logs") == 1

    # Money came in through the sandbox once (the second run added nothing): the brands paid
    # their funded jobs and got the unfilled slots back, the creators hold their approved
    # slots and the tip minus the 10 % fee; the ledger is sound. The brands funded their demo
    # campaigns (5000 and 900); sarah's settled views paid 30, 27 after the fee. The work
    # campaigns took 60000 of the brand's and 40000 of Northwind's; sarah's approved audit paid
    # 20000, 18000 after the fee. The salesman campaign took 30000 of the brand's; sarah's
    # verified commission paid 1890, 1701 after the fee.
    balances_sql = (
        "SELECT string_agg(u.email || '=' || a.balance, ',' ORDER BY u.email)"
        " FROM ledger.accounts a JOIN identity.users u ON u.id = a.owner_id"
        " WHERE a.kind = 'wallet_available'"
    )
    assert await scalar(database, balances_sql) == (
        "brand@creatorhub.example=145000,fan@creatorhub.example=7500,"
        "kai@creatorhub.example=54000,leo@creatorhub.example=3001,"
        "mia@creatorhub.example=0,nora@creatorhub.example=0,"
        "northwind@creatorhub.example=219099,sarah@creatorhub.example=21978"
    )
    assert verify(database.url) == []

    # The demo creator's workspace, all hers: shoots upcoming and completed with amounts in
    # minor units, uploads on several platforms, a public and a private blocked range, three
    # reviews through review links (two published, one hidden) and one link not used yet.
    assert (
        await scalar(
            database,
            "WITH sarah AS (SELECT id FROM identity.users WHERE email = :email)"
            " SELECT concat_ws(','"
            ", (SELECT count(*) FROM workspace.shoots WHERE user_id = (TABLE sarah))"
            ", (SELECT count(*) FROM workspace.shoots WHERE user_id = (TABLE sarah) AND completed)"
            ", (SELECT count(*) FROM workspace.shoots WHERE user_id = (TABLE sarah)"
            "   AND NOT completed AND date > current_date)"
            ", (SELECT count(DISTINCT platform) FROM workspace.uploads"
            "   WHERE user_id = (TABLE sarah))"
            ", (SELECT count(*) FROM workspace.uploads WHERE user_id = (TABLE sarah) AND completed)"
            ", (SELECT count(*) FROM workspace.calendar WHERE user_id = (TABLE sarah))"
            ", (SELECT count(*) FROM workspace.calendar WHERE user_id = (TABLE sarah)"
            "   AND reason_public)"
            ", (SELECT count(*) FROM workspace.reviews WHERE user_id = (TABLE sarah))"
            ", (SELECT count(*) FROM workspace.reviews WHERE user_id = (TABLE sarah)"
            "   AND is_published AND published_at IS NOT NULL)"
            ", (SELECT count(*) FROM workspace.calendar_feeds)"
            ")",
            email="sarah@creatorhub.example",
        )
        == "7,4,3,4,3,2,1,3,2,0"
    )
    assert await scalar(
        database,
        "SELECT bool_and(amount > 0 AND currency ~ '^[A-Z]{3}$')"
        " FROM workspace.shoots WHERE amount IS NOT NULL",
    )
    # Every reviewed shoot's link is used up by its review; one completed shoot has a live link,
    # and it is the one printed (only its SHA-256 is stored).
    assert (
        await scalar(
            database,
            "SELECT count(*) FROM workspace.reviews r JOIN workspace.review_links l"
            " ON l.id = r.review_link_id AND l.shoot_id = r.shoot_id AND l.used_at IS NOT NULL",
        )
        == 3
    )
    token = review_url.group(1).rsplit("/review/", 1)[1]
    assert (
        await scalar(
            database,
            "SELECT count(*) FROM workspace.review_links l"
            " JOIN workspace.shoots s ON s.id = l.shoot_id AND s.completed"
            " WHERE l.used_at IS NULL AND l.revoked_at IS NULL AND l.expires_at > now()"
            " AND l.token_hash = sha256(convert_to(:token, 'UTF8'))",
            token=token,
        )
        == 1
    )
    async with database.session_scope() as session:
        assert (await reviews.describe_link(session, token)).brand_name == "Café Aurora"
        portfolio = await get_portfolio(session, "sarah")
    assert portfolio.photo_url and portfolio.bio and portfolio.categories and portfolio.budget
    assert portfolio.rating.count == 2
    assert portfolio.rating.average_rating == Decimal("4.5")
    assert sorted(review.rating for review in portfolio.reviews) == [4, 5]
    # sarah's giveaways, one draw in each state, built once; the completed one rerolled (two
    # certificates), her credits: 3 welcome + 5 granted - 5 reserved or used + 2 given back.
    assert (
        await scalar(
            database, "SELECT string_agg(status, ',' ORDER BY status) FROM giveaways.draws"
        )
        == "cancelled,completed,failed,pending,processing"
    )
    assert await scalar(database, "SELECT count(*) FROM giveaways.certificates") == 2
    assert "Winter boots giveaway" in second.stdout


@pytest.mark.xdist_group("embedded_server")
async def test_the_embedded_server_keeps_its_data_across_restarts(tmp_path: Path) -> None:
    """No DATABASE_URL: each command starts the embedded PostgreSQL in the data directory and
    stops it when it exits; what one run wrote, the next run finds."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "DATABASE_URL" and not k.startswith("CREATORHUB_")
    }
    env.update(
        {
            "CREATORHUB_DATA_DIR": str(tmp_path / "data"),
            "CREATORHUB_ARGON2_TIME_COST": "1",
            "CREATORHUB_ARGON2_MEMORY_KIB": "1024",
            "CREATORHUB_LOG_JSON": "true",
            "CREATORHUB_LOG_LEVEL": "INFO",
        }
    )
    first = await run_cli(env, tmp_path, "demo")
    assert first.code == 0, first.stderr
    assert (tmp_path / "data" / "pgdata" / "PG_VERSION").is_file()
    assert '"created": ["admin@creatorhub.example"' in first.stderr

    second = await run_cli(env, tmp_path, "demo")
    assert second.code == 0, second.stderr
    assert '"created": []' in second.stderr, second.stderr
    current = await run_cli(env, tmp_path, "db", "current")
    assert f"current: {migrate.head()}" in current.stdout


@pytest.mark.ledger_corrupted
async def test_ledger_verify_passes_a_sound_ledger_and_fails_a_broken_one(
    cli_env: dict[str, str], tmp_path: Path, database: Database
) -> None:
    from sqlalchemy import text

    from creatorhub.ledger import service as ledger
    from creatorhub.ledger.models import AccountKind
    from creatorhub.ledger.service import TransferSpec

    async with database.session_scope() as session:
        clearing = await ledger.platform_account(session, AccountKind.PROVIDER_CLEARING, "USD")
        wallet = await ledger.user_account(session, uuid.uuid4(), "USD")
        await ledger.transfer(session, TransferSpec(clearing, wallet, 500, "funding", "cli-1"))
    sound = await run_cli(cli_env, tmp_path, "ledger", "verify")
    assert sound.code == 0, sound
    assert "ledger sound" in sound.stdout

    # A balance changed behind the ledger's back: money from nowhere.
    async with database.session_scope() as session:
        await session.execute(
            text("UPDATE ledger.accounts SET balance = balance + 1 WHERE id = :id"), {"id": wallet}
        )
    broken = await run_cli(cli_env, tmp_path, "ledger", "verify")
    assert broken.code == 1, broken
    assert "VIOLATION I1 currency balances sum to zero" in broken.stderr
    assert "VIOLATION I3 balance and version equal the sum and count of entries" in broken.stderr


def child_commands(pid: int) -> list[str]:
    """The command lines of a process's children (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                found.append(
                    Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                )
            except OSError:
                continue
    return found


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
async def test_serve_with_two_workers_answers_from_two_app_processes(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *command_prefix(),
        "serve",
        "--port",
        str(port),
        "--workers",
        "2",
        "--no-worker",
        env=cli_env,
        cwd=tmp_path,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                while True:
                    try:
                        if (await http.get("/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.2)
            email = f"two-{uuid.uuid4().hex[:8]}@example.com"
            registered = await http.post(
                "/v1/auth/register",
                json={"email": email, "password": "two workers passphrase", "display_name": "T"},
            )
            assert registered.status_code == 202, registered.text
            token = (
                await http.post(
                    "/v1/auth/login",
                    json={"email": email, "password": "two workers passphrase"},
                )
            ).json()["access_token"]
            me = await http.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200 and me.json()["email"] == email
        apps = [command for command in child_commands(process.pid) if "spawn_main" in command]
        assert len(apps) == 2, apps
    finally:
        process.terminate()
        async with asyncio.timeout(30):
            _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()[-2000:]
