"""Request bodies of the qualification API (shared by the views and the OpenAPI document)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=32)
    note: str = Field(default="", max_length=500)


class QualificationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    need: str | None = Field(default=None, max_length=500)
    timeline: str | None = Field(default=None, max_length=200)
    budget: str | None = Field(default=None, max_length=200)
    authority: str | None = Field(default=None, max_length=200)
    deal_value: float | None = Field(default=None, ge=0, le=1e12)
    deal_currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
