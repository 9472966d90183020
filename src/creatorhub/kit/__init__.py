"""Helpers with no domain of their own: errors, request context, clock, tokens."""
