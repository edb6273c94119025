"""Webhooks: signed, retried, never lost, safe to point anywhere.

One module per concern:

- ``models``: the API's request and response models, the event types;
- ``service`` and ``api``: endpoint management, the attempt log, replays;
- ``endpoints`` and ``deliveries``: the two tables, every write conditional;
- ``sink``: the event dispatcher's sink, one queued delivery per endpoint;
- ``queue`` and ``schedule``: SQS messages, retry waits and 900 s hops;
- ``delivery`` and ``handler``: the SQS handler, one attempt per message;
- ``ssrf`` and ``transport``: which addresses may be dialled, and dialling
  exactly the vetted one;
- ``signing``: Standard Webhooks secrets and signatures;
- ``wiring``: building all of it from settings.
"""
