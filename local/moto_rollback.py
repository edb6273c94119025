"""A cheaper rollback for moto's TransactWriteItems, in the local server only.

moto makes a transaction atomic by deep-copying every table it touches before
it starts, and putting the copies back if any part fails. The copy costs time
in proportion to the whole table, so on the local stack each transaction gets
slower as the data grows: seeding a few hundred threats took minutes, and so
did replaying them from the journal on the next start.

A transaction can only change the items it names, so this keeps a copy of
those items alone (and the length of the table's stream), puts them back when
the transaction fails, and lets moto's own table copy be the table itself.
The moto server handles one request at a time, so nothing else can change the
table between the copy and the restore.
"""

from __future__ import annotations

import contextvars
import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_sharing_tables: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sharing_tables", default=False
)
_installed: list[bool] = []


@dataclass
class _Saved:
    """One item a transaction names, as it was before the transaction."""

    table: Any
    hash_key: Any
    range_key: Any
    item: Any
    stream_length: int | None


class _TableSharingCopy:
    """Stands in for the ``copy`` module inside ``moto.dynamodb.models``.

    While a transaction runs, a deep copy of a table is the table itself;
    every other copy is a real one.
    """

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        if _sharing_tables.get() and isinstance(value, self._table_type):
            return value
        return copy.deepcopy(value, memo)

    def copy(self, value: Any) -> Any:
        return copy.copy(value)


def install() -> None:
    """Replace moto's whole-table copy with a copy of the named items (once)."""
    if _installed:
        return
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    original: Callable[..., Any] = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        saved = _save_named_items(self, transact_items)
        try:
            with _sharing():
                return original(self, transact_items)
        except Exception:
            _restore(saved)
            raise

    models.copy = _TableSharingCopy(Table)  # type: ignore[attr-defined,assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _installed.append(True)


@contextmanager
def _sharing() -> Iterator[None]:
    token = _sharing_tables.set(True)
    try:
        yield
    finally:
        _sharing_tables.reset(token)


def _save_named_items(
    backend: Any, transact_items: list[dict[str, Any]]
) -> list[_Saved]:
    saved = []
    for entry in transact_items:
        try:
            ((kind, operation),) = entry.items()
            table = backend.tables[operation["TableName"]]
            keys = _keys(table, kind, operation)
            hash_key, range_key = backend.get_keys_value(table, keys)
        except Exception:  # noqa: S112 - moto itself refuses such an entry
            continue
        current = table.get_item(hash_key, range_key)
        stream = table.stream_shard
        saved.append(
            _Saved(
                table,
                hash_key,
                range_key,
                copy.deepcopy(current),
                len(stream.items) if stream is not None else None,
            )
        )
    return saved


def _keys(table: Any, kind: str, operation: dict[str, Any]) -> dict[str, Any]:
    if kind != "Put":
        return dict(operation["Key"])
    item = operation["Item"]
    keys = {table.hash_key_attr: item[table.hash_key_attr]}
    if table.range_key_attr is not None:
        keys[table.range_key_attr] = item[table.range_key_attr]
    return keys


def _restore(saved: list[_Saved]) -> None:
    for entry in saved:
        items = entry.table.items
        if entry.range_key is None:
            if entry.item is None:
                items.pop(entry.hash_key, None)
            else:
                items[entry.hash_key] = entry.item
        elif entry.item is None:
            items.get(entry.hash_key, {}).pop(entry.range_key, None)
        else:
            items[entry.hash_key][entry.range_key] = entry.item
        stream = entry.table.stream_shard
        if stream is not None and entry.stream_length is not None:
            del stream.items[entry.stream_length :]
