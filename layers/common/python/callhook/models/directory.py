"""Operators, topics and instance settings: what assignment and topic steps resolve against."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_OPERATOR_SETTING = "telephony_autotranscribe_default_operator_id"
DEFAULT_OPERATOR_ID = 1  # the root admin (the seed)


def normalize_email(email: str) -> str:
    """How emails are compared: case and surrounding spaces ignored (CONTRACT §4)."""
    return email.strip().lower()


class Operator(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: int = Field(ge=0)
    email: str = Field(min_length=3)
    active: bool = True
    name: str = ""
    ext: str | None = None

    @field_validator("email")
    @classmethod
    def _looks_like_email(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError(f"not an email address: {value!r}")
        return value.strip()

    @field_validator("ext", mode="before")
    @classmethod
    def _ext_as_string(cls, value: Any) -> Any:
        return None if value in (None, "") else str(value).strip()

    def item(self) -> dict[str, Any]:
        """The stored item adds the index keys (normalised email, extension) that assignment queries."""
        item = self.model_dump(mode="json", exclude_none=True)
        item["email_key"] = normalize_email(self.email)
        return item


class Topic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alias: str = Field(min_length=1)
    name: str = ""


class Setting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1)
    value: Any
