"""The IAM action and resource behind each AWS call the service makes, on request.

The stage policies in ``.chalice/`` grant what the code needs and nothing
more, and ``tests/policy`` proves it against the calls the whole test suite
made. Those calls are recorded here: with ``JUPITER_RECORD_AWS_ACTIONS`` set to
a directory, every client :func:`watch` is given (those of
:mod:`chalicelib.aws` and the Secrets Manager client of
:mod:`chalicelib.config`) appends each (action, resource) pair it needs, once
per process, as a JSON line to ``<directory>/<pid>.jsonl``. Only calls made
on the service code's behalf count: a call is recorded when ``app.py`` or a
``chalicelib`` module is on the calling thread's stack, so a test inspecting a
table, or the local stack seeding its demo feed or emulating an event source,
through the same client, is not. Clients made anywhere else are not watched at all.

Unset, as it always is in AWS, :func:`watch` registers nothing and a call
costs nothing extra.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

if TYPE_CHECKING:
    from botocore.client import BaseClient

RECORD_VARIABLE = "JUPITER_RECORD_AWS_ACTIONS"

_PACKAGE = Path(__file__).resolve().parent
_APP = _PACKAGE.parent / "app.py"

Client = TypeVar("Client", bound="BaseClient")

# A transaction has no IAM action of its own: IAM authorizes each item as the
# single-item action it contains.
_TRANSACTION_ITEMS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}
# Every @connections call needs execute-api:ManageConnections, on a resource
# named by the HTTP method the operation uses.
_CONNECTION_METHODS = {
    "PostToConnection": "POST",
    "GetConnection": "GET",
    "DeleteConnection": "DELETE",
}


class Permission(NamedTuple):
    """An IAM action and the resource it was needed on.

    The resource is the part of the ARN after the account: ``table/<name>``
    (with ``/index/<name>`` for an index query), the queue name,
    ``secret:<name>``, or ``<METHOD>/@connections``; ``*`` when the call
    names none.
    """

    action: str
    resource: str


def needed(prefix: str, operation: str, params: Mapping[str, Any]) -> list[Permission]:
    """Return the permissions one call of ``operation`` with ``params`` needs.

    ``prefix`` is the service's IAM prefix (its signing name: ``dynamodb``,
    ``sqs``, ``secretsmanager``, ``execute-api`` for the @connections API).
    """
    if prefix == "execute-api":
        method = _CONNECTION_METHODS.get(operation, "*")
        return [Permission("execute-api:ManageConnections", f"{method}/@connections")]
    if prefix == "dynamodb" and operation in ("TransactWriteItems", "TransactGetItems"):
        return [_transaction_item(item) for item in params.get("TransactItems", [])]
    action = f"{prefix}:{operation}"
    return [Permission(action, resource) for resource in _resources(prefix, params)]


def _transaction_item(item: Mapping[str, Any]) -> Permission:
    ((kind, body),) = item.items()
    return Permission(_TRANSACTION_ITEMS[kind], f"table/{body['TableName']}")


def _resources(prefix: str, params: Mapping[str, Any]) -> list[str]:
    if prefix == "dynamodb" and "RequestItems" in params:
        return [f"table/{table}" for table in params["RequestItems"]]
    if prefix == "dynamodb" and "TableName" in params:
        index = f"/index/{params['IndexName']}" if "IndexName" in params else ""
        return [f"table/{params['TableName']}{index}"]
    if prefix == "sqs" and "QueueUrl" in params:
        return [str(params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]]
    if prefix == "secretsmanager" and "SecretId" in params:
        # A name, or an ARN: then what follows its ``secret:``.
        secret = str(params["SecretId"])
        return ["secret:" + secret.split(":secret:", 1)[-1]]
    return ["*"]


class Recorder:
    """Appends each permission not yet seen by this process to its file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: set[Permission] = set()
        self._lock = threading.Lock()

    def on_call(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        """Record a call the service code made; a ``before-parameter-build`` handler."""
        if not _made_by_the_service():
            return
        prefix = str(model.service_model.signing_name)
        for permission in needed(prefix, str(model.name), params):
            self.record(permission)

    def record(self, permission: Permission) -> None:
        """Append ``permission`` to the file unless this process already did."""
        with self._lock:
            if permission in self._seen:
                return
            self._seen.add(permission)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as output:
                output.write(json.dumps(permission._asdict()) + "\n")


def _made_by_the_service() -> bool:
    """Tell whether app.py or chalicelib (but this module) is on the stack."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if _is_service_code(frame.f_code.co_filename):
            return True
        frame = frame.f_back
    return False


@lru_cache(maxsize=1024)
def _is_service_code(filename: str) -> bool:
    path = Path(filename).resolve()
    if path == Path(__file__).resolve():
        return False
    return path == _APP or _PACKAGE in path.parents


@lru_cache(maxsize=4)
def _recorder(directory: str, pid: int) -> Recorder:
    return Recorder(Path(directory) / f"{pid}.jsonl")


def watch(client: Client) -> Client:
    """Record ``client``'s calls if ``JUPITER_RECORD_AWS_ACTIONS`` names a directory."""
    directory = os.environ.get(RECORD_VARIABLE)
    if directory:
        recorder = _recorder(directory, os.getpid())
        client.meta.events.register(
            "before-parameter-build", recorder.on_call, unique_id=RECORD_VARIABLE
        )
    return client
