"""Giveaways (seed 003, "Cleack"): credits, verifiable draws, certificates, blacklists."""
