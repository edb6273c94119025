"""Realtime: WebSocket connections, subscriptions and broadcasts.

``service`` answers each frame, ``connections`` and ``slots`` keep the
connections in DynamoDB, ``journal`` numbers and keeps each topic's frames,
``fanout`` posts a frame to a topic's subscribers, ``sink`` turns domain
events into broadcasts, and ``handlers`` adapts API Gateway events.
"""
