from money_fixtures import ledger_verified

__all__ = ["ledger_verified"]
