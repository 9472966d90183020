"""Benchmarks of creatorhub: `python -m bench` (the ledger against pgbench), `bench/http_auth.py`.

Not part of `make test`: each benchmark reports its figures as ratios to a reference measured
in the same run on the same server. See docs/benchmarks.md.
"""
