"""Seed 002's campaigns: advertisers (brands) pay promoters (creators) per 100 views of their
tracking links (visibility), on approved work (consultant, seller) or per sale (salesman)."""
