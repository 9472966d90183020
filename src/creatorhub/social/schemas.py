"""Response bodies of the social endpoints. Tokens never appear in any of them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from creatorhub.social.models import Credential


class AuthorizationOut(BaseModel):
    authorization_url: str = Field(description="Send the creator's browser here")
    redirect_uri: str = Field(description="Where the platform sends the browser back")
    expires_at: datetime = Field(description="The authorization must complete before this")


class ConnectionOut(BaseModel):
    platform: str
    platform_user_id: str
    username: str | None
    status: str = Field(description="active, reconnect_needed or disconnected")
    follower_count: int | None
    follower_count_at: datetime | None
    scopes: list[str]
    connected_at: datetime
    refreshed_at: datetime | None = Field(description="Last token refresh")
    expires_at: datetime | None = Field(description="When the access token expires")
    last_error: str | None = Field(description="Why the last refresh or read failed")

    @classmethod
    def of(cls, credential: Credential) -> ConnectionOut:
        return cls(
            platform=credential.platform,
            platform_user_id=credential.platform_user_id,
            username=credential.username,
            status=credential.status,
            follower_count=credential.follower_count,
            follower_count_at=credential.follower_count_at,
            scopes=list(credential.scopes),
            connected_at=credential.created_at,
            refreshed_at=credential.refreshed_at,
            expires_at=credential.expires_at,
            last_error=credential.last_error,
        )
