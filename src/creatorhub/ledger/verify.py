"""`creatorhub ledger verify`: the money invariants I1-I6, checked in SQL.

The invariants are explained in docs/conventions.md ("How money moves").

Each check is a query that returns the rows violating it, so an empty result means the
invariant holds and a failure names the accounts, transfers or payouts at fault. The checks read
one consistent snapshot (REPEATABLE READ, read only) and may run while the platform is busy.

  I1  every currency sums to zero (accounts; each transfer's two legs cancel by construction:
      one positive amount, debited from one account and credited to another)
  I2  no may-not-go-negative account is negative, pending debits counted; the pending amounts
      on accounts equal their pending holds
  I3  each balance is the sum of its entries (the legs in ledger.entries, a view over the
      transfers' chain columns); versions and the balance chain are unbroken, each version used
      by one leg
  I4  every escrow: funded = released + refunded + still held, held ≤ balance; every resolved
      hold has the one posting it should (posted) or none (voided, expired, pending)
  I5  one effect per idempotency key and per provider event: funding intents credited at most
      once and only when succeeded, payouts reserved at most once
  I6  no payout below its minimum without an admin's release, none above the balance it came from
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from creatorhub.db import libpq_url


@dataclass(frozen=True)
class Check:
    invariant: str
    name: str
    sql: str
    requires: str | None = None  # a table that must exist for the check to apply


@dataclass(frozen=True)
class Violation:
    invariant: str
    check: str
    rows: list[dict[str, Any]]

    def __str__(self) -> str:
        shown = "; ".join(str(row) for row in self.rows[:5])
        more = f" (+{len(self.rows) - 5} more)" if len(self.rows) > 5 else ""
        return f"{self.invariant} {self.check}: {shown}{more}"


CHECKS: tuple[Check, ...] = (
    Check(
        "I1",
        "currency balances sum to zero",
        """SELECT currency, sum(balance) AS total FROM ledger.accounts
           GROUP BY currency HAVING sum(balance) <> 0""",
    ),
    Check(
        "I1",
        "each transfer moves a positive amount between two accounts",
        """SELECT id, amount, debit_account_id, credit_account_id FROM ledger.transfers
           WHERE amount <= 0 OR debit_account_id = credit_account_id""",
    ),
    Check(
        "I1",
        "transfer currency is its accounts' currency",
        """SELECT t.id, t.currency, d.currency AS debit_currency, c.currency AS credit_currency
           FROM ledger.transfers t
           JOIN ledger.accounts d ON d.id = t.debit_account_id
           JOIN ledger.accounts c ON c.id = t.credit_account_id
           WHERE t.currency <> d.currency OR t.currency <> c.currency""",
    ),
    Check(
        "I2",
        "no constrained account below zero (pending debits counted)",
        """SELECT id, kind, balance, pending_debits FROM ledger.accounts
           WHERE NOT allow_negative AND balance - pending_debits < 0""",
    ),
    Check(
        "I2",
        "pending amounts equal the pending holds",
        """WITH debits AS (
               SELECT debit_account_id AS id, sum(amount) AS held FROM ledger.holds
               WHERE status = 'pending' GROUP BY 1),
           credits AS (
               SELECT credit_account_id AS id, sum(amount) AS held FROM ledger.holds
               WHERE status = 'pending' GROUP BY 1)
           SELECT a.id, a.pending_debits, coalesce(d.held, 0) AS held_debits,
                  a.pending_credits, coalesce(c.held, 0) AS held_credits
           FROM ledger.accounts a
           LEFT JOIN debits d ON d.id = a.id LEFT JOIN credits c ON c.id = a.id
           WHERE a.pending_debits <> coalesce(d.held, 0)
              OR a.pending_credits <> coalesce(c.held, 0)""",
    ),
    Check(
        "I3",
        "balance and version equal the sum and count of entries",
        """SELECT a.id, a.balance, coalesce(e.total, 0) AS entries_total, a.version,
                  coalesce(e.legs, 0) AS entries, coalesce(e.last_version, 0) AS last_version
           FROM ledger.accounts a
           LEFT JOIN (SELECT account_id, sum(amount) AS total, count(*) AS legs,
                             max(account_version) AS last_version
                      FROM ledger.entries GROUP BY account_id) e ON e.account_id = a.id
           WHERE a.balance <> coalesce(e.total, 0) OR a.version <> coalesce(e.legs, 0)
              OR a.version <> coalesce(e.last_version, 0)""",
    ),
    Check(
        "I3",
        "balance chain unbroken",
        """SELECT account_id, account_version, previous_balance, expected_previous
           FROM (SELECT account_id, account_version, previous_balance,
                        coalesce(lag(new_balance) OVER w, 0) AS expected_previous,
                        row_number() OVER w AS position
                 FROM ledger.entries
                 WINDOW w AS (PARTITION BY account_id ORDER BY account_version)) chain
           WHERE previous_balance <> expected_previous OR account_version <> position""",
    ),
    Check(
        "I3",
        "each account version belongs to one leg",
        """SELECT account_id, account_version, count(*) AS legs FROM ledger.entries
           GROUP BY account_id, account_version HAVING count(*) > 1""",
    ),
    Check(
        "I4",
        "escrow: funded = released + refunded + still held",
        """SELECT a.id, a.owner_type, a.owner_id, m.funded, m.released, m.refunded, a.balance,
                  a.pending_debits AS held
           FROM ledger.accounts a
           JOIN (SELECT e.account_id,
                        sum(e.amount) FILTER (WHERE e.amount > 0) AS funded,
                        coalesce(-sum(e.amount) FILTER (WHERE e.amount < 0
                                                        AND t.kind <> 'refund'), 0) AS released,
                        coalesce(-sum(e.amount) FILTER (WHERE e.amount < 0
                                                        AND t.kind = 'refund'), 0) AS refunded
                 FROM ledger.entries e JOIN ledger.transfers t ON t.id = e.transfer_id
                 GROUP BY e.account_id) m ON m.account_id = a.id
           WHERE a.kind = 'escrow'
             AND (coalesce(m.funded, 0) <> m.released + m.refunded + a.balance
                  OR a.pending_debits > a.balance)""",
    ),
    Check(
        "I4",
        "each hold posted once at its posted amount, others not at all",
        """SELECT h.id, h.status, h.posted_amount, count(t.id) AS postings,
                  sum(t.amount) AS posted_total
           FROM ledger.holds h
           LEFT JOIN ledger.transfers t ON t.hold_id = h.id
           GROUP BY h.id
           HAVING (h.status = 'posted' AND (count(t.id) <> 1
                                            OR sum(t.amount) <> h.posted_amount))
               OR (h.status <> 'posted' AND count(t.id) <> 0)""",
    ),
    Check(
        "I5",
        "one transfer per idempotency key",
        """SELECT idempotency_key, count(*) FROM ledger.transfers
           GROUP BY 1 HAVING count(*) > 1""",
    ),
    Check(
        "I5",
        "one stored event per provider event id",
        """SELECT provider, event_id, count(*) FROM payments.webhook_events
           GROUP BY 1, 2 HAVING count(*) > 1""",
        requires="payments.webhook_events",
    ),
    Check(
        "I5",
        "funding intents credited once, and only when succeeded",
        """SELECT i.id, i.status, count(t.id) AS credits
           FROM payments.funding_intents i
           LEFT JOIN ledger.transfers t
             ON t.reference_type = 'funding_intent' AND t.reference_id = i.id::text
            AND t.kind = 'funding'
           GROUP BY i.id
           HAVING count(t.id) > 1 OR (count(t.id) = 1) <> (i.status = 'succeeded')""",
        requires="payments.funding_intents",
    ),
    Check(
        "I5",
        "payouts reserved once, settled at most once",
        """SELECT p.id, p.status,
                  count(t.id) FILTER (WHERE t.kind = 'payout') AS reserved,
                  count(t.id) FILTER (WHERE t.kind IN ('payout_paid', 'payout_returned'))
                    AS settled
           FROM payments.payouts p
           LEFT JOIN ledger.transfers t
             ON t.reference_type = 'payout' AND t.reference_id = p.id::text
           GROUP BY p.id
           HAVING count(t.id) FILTER (WHERE t.kind = 'payout') <> 1
               OR count(t.id) FILTER (WHERE t.kind IN ('payout_paid', 'payout_returned'))
                  <> CASE WHEN p.status IN ('paid', 'failed', 'canceled') THEN 1 ELSE 0 END""",
        requires="payments.payouts",
    ),
    Check(
        "I6",
        "no payout below its minimum without an admin's release",
        """SELECT id, amount, minimum_amount FROM payments.payouts
           WHERE amount < minimum_amount AND released_below_minimum_by IS NULL""",
        requires="payments.payouts",
    ),
    Check(
        "I6",
        "no payout above the balance it was taken from",
        """SELECT p.id, p.amount, e.new_balance
           FROM payments.payouts p
           JOIN ledger.transfers t
             ON t.reference_type = 'payout' AND t.reference_id = p.id::text AND t.kind = 'payout'
           JOIN ledger.entries e ON e.transfer_id = t.id AND e.account_id = t.debit_account_id
           JOIN ledger.accounts a ON a.id = e.account_id
           WHERE t.amount <> p.amount OR (NOT a.allow_negative AND e.new_balance < 0)""",
        requires="payments.payouts",
    ),
)


def run_checks(connection: psycopg.Connection[Any]) -> list[Violation]:
    violations: list[Violation] = []
    with connection.cursor() as cursor:
        for check in CHECKS:
            if check.requires is not None:
                cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (check.requires,))
                row = cursor.fetchone()
                if row is None or not row[0]:
                    continue
            cursor.execute(check.sql)
            names = [column.name for column in cursor.description or ()]
            rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
            if rows:
                violations.append(Violation(check.invariant, check.name, rows))
    return violations


def verify(database_url: str) -> list[Violation]:
    """All violations of I1-I6 in one snapshot of the database; empty when the ledger is sound."""
    with psycopg.connect(libpq_url(database_url), autocommit=False) as connection:
        connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        try:
            return run_checks(connection)
        finally:
            connection.rollback()
