"""Shared fixtures: a moto-backed AWS, the provisioned tables, a Chalice client."""

from __future__ import annotations

import os

# moto must be imported, and fake credentials set, before anything creates a
# boto3 session; tracing is off in tests.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_XRAY_SDK_ENABLED"] = "false"
os.environ.pop("AWS_ENDPOINT_URL", None)
