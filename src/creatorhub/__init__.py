"""creatorhub: a self-hostable backend for creator-economy platforms."""

__version__ = "0.1.0"
