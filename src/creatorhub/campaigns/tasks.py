"""The campaigns' background jobs (issue 14): being written."""

from __future__ import annotations
