// The generated JavaScript SDK against scripted local servers.
import assert from "node:assert/strict";
import { test } from "node:test";

import { SECRET, loadSdk, problem, scripted, websocketServer } from "./support.mjs";

const sdk = await loadSdk();
const { JupiterVRClient } = sdk;

test("every operation in the OpenAPI document is a method", () => {
  const expected = JSON.parse(process.env.JUPITER_SDK_OPERATIONS || "[]");
  assert.ok(expected.length > 0);
  for (const name of expected) assert.equal(typeof JupiterVRClient.prototype[name], "function", name);
});

test("429 with Retry-After: 1 then 200 is retried once after about a second", async () => {
  const server = await scripted([
    { status: 429, body: problem(429, "rate_limit_exceeded"), headers: { "Retry-After": "1" } },
    { status: 200, body: { key_id: "jptr_test" } },
  ]);
  try {
    const client = new JupiterVRClient("jptr_test", SECRET, { baseUrl: server.url });
    assert.deepEqual(await client.getUsage(), { key_id: "jptr_test" });
    assert.equal(server.arrivals.length, 2);
    const gap = (server.arrivals[1].at - server.arrivals[0].at) / 1000;
    assert.ok(gap >= 0.9 && gap <= 2.0, `retried after ${gap} s`);
    assert.equal(client.lastResponse.retries, 1);
  } finally {
    await server.close();
  }
});

test("a POST retried after 503 reuses its Idempotency-Key", async () => {
  const server = await scripted([
    { status: 503, body: problem(503, "store_unavailable"), headers: { "Retry-After": "0" } },
    { status: 201, body: { session_id: "vrs_1" } },
  ]);
  try {
    const client = new JupiterVRClient("jptr_test", SECRET, { baseUrl: server.url });
    const session = await client.createVRSession({ user_id: "u1", environment: "lab" });
    assert.deepEqual(session, { session_id: "vrs_1" });
    const keys = server.arrivals.map((a) => a.headers["idempotency-key"]);
    assert.equal(keys.length, 2);
    assert.ok(keys[0]);
    assert.equal(keys[0], keys[1]);
    assert.equal(server.arrivals[0].body, server.arrivals[1].body);
  } finally {
    await server.close();
  }
});

test("server errors back off exponentially, then reject with ServerError", async () => {
  const server = await scripted([{ status: 500, body: problem(500, "internal_error") }]);
  const waits = [];
  try {
    const client = new JupiterVRClient("jptr_test", SECRET, {
      baseUrl: server.url,
      sleep: async (ms) => { waits.push(ms); },
    });
    await assert.rejects(client.getUsage(), (error) => error instanceof sdk.ServerError && error.status === 500);
    assert.equal(server.arrivals.length, 3);
    assert.ok(waits[0] >= 375 && waits[0] <= 500, `first wait ${waits[0]}`);
    assert.ok(waits[1] >= 750 && waits[1] <= 1000, `second wait ${waits[1]}`);
  } finally {
    await server.close();
  }
});

for (const [status, code, kind] of [
  [400, "validation_error", "ValidationError"],
  [401, "invalid_api_key", "AuthenticationError"],
  [403, "insufficient_permissions", "PermissionDeniedError"],
  [404, "not_found", "NotFoundError"],
  [429, "rate_limit_exceeded", "RateLimitError"],
]) {
  test(`${status} rejects with ${kind} carrying status, code, message and request id`, async () => {
    const server = await scripted([{ status, body: problem(status, code) }]);
    try {
      const client = new JupiterVRClient("jptr_test", SECRET, { baseUrl: server.url, maxRetries: 0 });
      await assert.rejects(client.getUsage(), (error) => {
        assert.ok(error instanceof sdk[kind]);
        assert.equal(error.status, status);
        assert.equal(error.code, code);
        assert.equal(error.detail, `scripted ${code}`);
        assert.equal(error.requestId, `req_problem_${status}`);
        return true;
      });
    } finally {
      await server.close();
    }
  });
}

test("an unreachable service rejects with APIConnectionError after retries", async () => {
  let waits = 0;
  const client = new JupiterVRClient("jptr_test", SECRET, {
    baseUrl: "http://127.0.0.1:9",
    sleep: async () => { waits++; },
  });
  await assert.rejects(client.getUsage(), sdk.APIConnectionError);
  assert.equal(waits, 2);
});

test("a slow answer times out as APITimeoutError", async () => {
  const http = await import("node:http");
  const server = http.createServer(() => {});
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  try {
    const client = new JupiterVRClient("jptr_test", SECRET, {
      baseUrl: `http://127.0.0.1:${server.address().port}`,
      timeoutMs: 200,
      maxRetries: 0,
    });
    await assert.rejects(client.getUsage(), sdk.APITimeoutError);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test("the secret stays out of JSON.stringify(client)", () => {
  const client = new JupiterVRClient("jptr_test", SECRET);
  assert.ok(!JSON.stringify(client).includes(SECRET));
});

test("connectWebSocket reconnects, re-authenticates and resumes after the last seq", async (t) => {
  if (!globalThis.WebSocket) return t.skip("this Node has no WebSocket (use --experimental-websocket)");
  const connections = [];
  const server = await websocketServer((connection) => {
    connections.push(connection);
    const round = connections.length;
    connection.onFrame = (frame) => {
      if (frame.type === "authenticate") {
        connection.send({ type: "authenticated", key_id: frame.api_key_id, tier: "FREE", scopes: [], connection_limit: 1 });
      } else if (frame.type === "subscribe" && round === 1) {
        connection.send({ type: "subscribed", channels: frame.channels, seq: { threats: 0 } });
        connection.send({ type: "threat_update", channel: "threats", seq: 1, timestamp: "t", threat: { threat_id: "thr_1" } });
        connection.send({ type: "threat_update", channel: "threats", seq: 2, timestamp: "t", threat: { threat_id: "thr_2" } });
        setTimeout(() => connection.drop(), 50);
      } else if (frame.type === "subscribe") {
        connection.send({ type: "subscribed", channels: frame.channels, seq: { threats: 3 } });
        // The replay overlaps what the client saw: seq 2 must not be delivered twice.
        connection.send({ type: "threat_update", channel: "threats", seq: 2, timestamp: "t", threat: { threat_id: "thr_2" } });
        connection.send({ type: "threat_update", channel: "threats", seq: 3, timestamp: "t", threat: { threat_id: "thr_3" } });
      }
    };
  });
  const client = new JupiterVRClient("jptr_test", SECRET, { wsUrl: server.url });
  const updates = [];
  const statuses = [];
  let stream;
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${updates.length} updates`)), 10000);
      stream = client.connectWebSocket((frame) => {
        if (frame.type === "threat_update") updates.push(frame.seq);
        if (updates.length === 3) { clearTimeout(timer); resolve(); }
      }, { channels: ["threats"], onStatus: (s) => statuses.push(s.state) });
    });
    assert.deepEqual(updates, [1, 2, 3]);
    assert.equal(connections.length, 2);
    const secondSubscribe = connections[1].received.find((f) => f.type === "subscribe");
    assert.deepEqual(connections[1].received[0].type, "authenticate");
    assert.deepEqual(secondSubscribe.since, { threats: 2 });
    assert.ok(statuses.includes("reconnecting"));
    assert.deepEqual(stream.lastSeq, { threats: 3 });
  } finally {
    stream?.close();
    await server.close();
  }
});
