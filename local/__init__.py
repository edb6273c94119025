"""The local stack behind ``make run``: dev-only, never packaged into the Lambda.

``local.stack`` starts ``local.moto_server`` (a serialized, journaled moto
server), provisions ``infrastructure/`` on it and serves the Chalice app through
``local.server`` (an API Gateway REST emulation on aiohttp).
"""
