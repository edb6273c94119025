"""Shared fixtures: a moto-backed AWS, the provisioned tables, a Chalice client."""

from __future__ import annotations

import os

from hypothesis import settings

# moto must be imported, and fake credentials set, before anything creates a
# boto3 session; tracing is off in tests.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_XRAY_SDK_ENABLED"] = "false"
os.environ.pop("AWS_ENDPOINT_URL", None)

# Property tests in CI: the same examples on every run (no flaky discovery in a
# gate) and no example database left behind; locally hypothesis explores anew
# and replays what failed before.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")
