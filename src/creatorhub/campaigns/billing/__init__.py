"""Campaign billing and reporting (issue 15, seed 002): monthly summaries per user computed
from the ledger, and the seed's reporting tables as views of it."""
