"""The double-entry ledger: the only place money moves."""
