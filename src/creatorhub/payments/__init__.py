"""Payments: providers (sandbox, Stripe), funding, payouts, fees, webhooks, recurring billing.

Money itself moves only through `creatorhub.ledger`; this module decides when, and talks to the
outside world.
"""
