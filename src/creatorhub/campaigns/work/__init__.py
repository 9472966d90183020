"""Consultant and seller campaigns (issue 15, seed 002): promoters apply with a rate, the
advertiser negotiates and selects; the agreed work is split into deliverables, each reserved
from the campaign's escrow when both agree on it and paid when its work is approved."""
