"""Dependencies for what the app holds for its lifetime: settings and database."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from creatorhub.config import Settings
from creatorhub.db import Database


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


AppSettings = Annotated[Settings, Depends(_settings)]
AppDatabase = Annotated[Database, Depends(_database)]
