// The generated JavaScript SDK against the live local stack (make run):
// REST calls, then WebSocket streaming across a forced reconnect.
import assert from "node:assert/strict";
import { test } from "node:test";

const { JupiterVRClient } = await import(new URL(`file://${process.env.JUPITER_SDK_DIR}/index.js`).href);
const client = new JupiterVRClient(process.env.JUPITER_LIVE_KEY_ID, process.env.JUPITER_LIVE_KEY_SECRET, {
  baseUrl: process.env.JUPITER_LIVE_URL,
});
const threat = { type: "malware", severity: "high", target: "sdk-js-live" };

test("getThreats(50) lists threats", async () => {
  await client.createThreat(threat);
  const { threats, next_cursor } = await client.getThreats(50);
  assert.ok(Array.isArray(threats) && threats.length >= 1);
  assert.ok(next_cursor === null || typeof next_cursor === "string");
});

test("createVRSession starts a session", async () => {
  const session = await client.createVRSession({ user_id: "js_player_1", environment: "threat_visualization" });
  assert.match(session.session_id, /\S+/);
  const again = await client.getVRSession(session.session_id);
  assert.equal(again.session_id, session.session_id);
});

test("errors carry status, code and request id", async () => {
  await assert.rejects(client.getThreat("thr_missing"), (error) => {
    assert.equal(error.status, 404);
    assert.equal(error.code, "not_found");
    assert.match(error.requestId, /^req_/);
    return true;
  });
});

function waitFor(predicate, what, ms = 15000) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (predicate()) { clearInterval(timer); resolve(); }
      else if (Date.now() - started > ms) { clearInterval(timer); reject(new Error(`timed out waiting for ${what}`)); }
    }, 25);
  });
}

test("connectWebSocket streams threat updates and resumes after a reconnect", async (t) => {
  if (!globalThis.WebSocket) return t.skip("this Node has no WebSocket (use --experimental-websocket)");
  const frames = [];
  const stream = client.connectWebSocket((frame) => frames.push(frame), { channels: ["threats"] });
  try {
    const count = (type) => frames.filter((f) => f.type === type).length;
    await waitFor(() => count("subscribed") === 1, "the first subscription");
    const first = await client.createThreat({ ...threat, target: "ws-before-reconnect" });
    await waitFor(() => frames.some((f) => f.type === "threat_update" && f.threat.threat_id === first.threat_id), "the first update");

    stream.reconnect();
    await waitFor(() => count("subscribed") === 2, "the resubscription");
    assert.equal(count("authenticated"), 2);
    const second = await client.createThreat({ ...threat, target: "ws-after-reconnect" });
    await waitFor(() => frames.some((f) => f.type === "threat_update" && f.threat.threat_id === second.threat_id), "the second update");

    const seqs = frames.filter((f) => f.type === "threat_update").map((f) => f.seq);
    assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b), `updates out of order or repeated: ${seqs}`);
    assert.equal(stream.lastSeq.threats, seqs.at(-1));
  } finally {
    stream.close();
  }
});
