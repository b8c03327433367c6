"""Operator items as admins write them: derived index keys kept in step with the item, for every writer.

docs/items.md: an operator written in the DynamoDB console (`{"user_id": 17, "email": "ann@example.com", ...}`, an
email in any case, `ext` a string or a number) works exactly like one written by the CLI. The indexes the workflow
queries are on `email_key` and `ext_key`; the NormalizeOperator function on the table's stream writes them here.

Pure (docs/design.md): the stream's items arrive decoded (repositories/streams.py), the write is the `OperatorIndexKeys`
port (repositories/directory.DynamoOperators).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from callhook.models.directory import operator_derived_attributes, read_operator_item
from callhook.models.problems import InvalidItem
from callhook.ports import OperatorIndexKeys, WrittenItem


class OperatorNormalization(BaseModel):
    model_config = ConfigDict(extra="forbid")

    written: list[str] = Field(default_factory=list)  # user_ids whose derived attributes were (re)written
    unchanged: int = 0
    invalid: list[InvalidItem] = Field(default_factory=list)  # still normalised (findable), but skipped by the workflow


def normalize_operators(written: list[WrittenItem], operators: OperatorIndexKeys) -> OperatorNormalization:
    """Keep each written operator's derived attributes (`email_key`, `ext_key`) in step with its `email` and `ext`.

    Writes only when something changes (see OperatorIndexKeys.write_derived): the write is itself a stream record
    of this table, delivered again to this function, which must then find nothing to do. An invalid item is still
    normalised (findable), and reported.
    """
    report = OperatorNormalization()
    for each in written:
        item = each.item
        read = read_operator_item(item)
        if isinstance(read, InvalidItem):
            report.invalid.append(read)
        wanted = operator_derived_attributes(item)
        if all(item.get(name) == value for name, value in wanted.items()):
            report.unchanged += 1
        elif operators.write_derived(item, wanted):
            report.written.append(str(item.get("user_id")))
        else:
            report.unchanged += 1
    return report
