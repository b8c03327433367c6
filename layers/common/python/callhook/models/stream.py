"""DynamoDB stream events, as a function with a `Type: DynamoDB` event in template.yaml receives them.

Images stay in DynamoDB's attribute-value form here (the boundary model); callhook.aws.from_item reads them as the
repositories read items, so a stream image and a GetItem of the same item give the same dict.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class StreamChange(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    keys: dict[str, Any] = Field(alias="Keys")
    new_image: dict[str, Any] | None = Field(default=None, alias="NewImage")
    old_image: dict[str, Any] | None = Field(default=None, alias="OldImage")


class StreamRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    event_name: Literal["INSERT", "MODIFY", "REMOVE"] = Field(alias="eventName")
    event_source_arn: str = Field(default="", alias="eventSourceARN")
    dynamodb: StreamChange


class StreamEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    records: list[StreamRecord] = Field(alias="Records")
