// Test servers for the JavaScript SDK tests: a scripted HTTP server and a
// minimal WebSocket server (RFC 6455 text frames only), both on 127.0.0.1.
import crypto from "node:crypto";
import http from "node:http";

export const SDK_DIR = process.env.JUPITER_SDK_DIR;
export const SECRET = "a".repeat(64);

export async function loadSdk() {
  if (!SDK_DIR) throw new Error("JUPITER_SDK_DIR must name the rendered JavaScript SDK");
  return import(new URL(`file://${SDK_DIR}/index.js`).href);
}

export function problem(status, code) {
  return { type: `https://docs.jupiter.example/problems/${code}`, title: code, status, detail: `scripted ${code}`, code, request_id: `req_problem_${status}` };
}

/** Answer requests from `script` in order (then repeat the last); record arrivals. */
export async function scripted(script) {
  const arrivals = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (c) => chunks.push(c));
    request.on("end", () => {
      arrivals.push({ at: performance.now(), method: request.method, url: request.url, headers: request.headers, body: Buffer.concat(chunks).toString() });
      const answer = script.length > 1 ? script.shift() : script[0];
      const body = answer.body === undefined ? "" : JSON.stringify(answer.body);
      response.writeHead(answer.status, {
        "Content-Type": answer.status >= 400 ? "application/problem+json" : "application/json",
        "X-Request-Id": `req_scripted_${arrivals.length}`,
        ...(answer.headers || {}),
      });
      response.end(body);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}`, arrivals, close: () => new Promise((r) => server.close(r)) };
}

function encode(text) {
  const payload = Buffer.from(text);
  const header = payload.length < 126
    ? Buffer.from([0x81, payload.length])
    : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([header, payload]);
}

function decode(buffer) {
  if (buffer.length < 2) return null;
  const opcode = buffer[0] & 0x0f;
  let length = buffer[1] & 0x7f;
  let offset = 2;
  if (length === 126) { length = buffer.readUInt16BE(2); offset = 4; }
  else if (length === 127) { length = Number(buffer.readBigUInt64BE(2)); offset = 10; }
  const masked = (buffer[1] & 0x80) !== 0;
  const mask = masked ? buffer.subarray(offset, offset + 4) : null;
  offset += masked ? 4 : 0;
  if (buffer.length < offset + length) return null;
  const payload = Buffer.from(buffer.subarray(offset, offset + length));
  if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
  return { opcode, text: payload.toString(), rest: buffer.subarray(offset + length) };
}

/** A WebSocket server calling `onConnection(connection)` for each client. */
export async function websocketServer(onConnection) {
  const server = http.createServer();
  const sockets = new Set();
  server.on("upgrade", (request, socket) => {
    sockets.add(socket);
    const accept = crypto.createHash("sha1")
      .update(request.headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
      .digest("base64");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    const connection = {
      received: [],
      onFrame: () => {},
      send: (frame) => socket.write(encode(JSON.stringify(frame))),
      drop: () => socket.destroy(),
    };
    let buffer = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (let frame = decode(buffer); frame; frame = decode(buffer)) {
        buffer = frame.rest;
        if (frame.opcode === 8) { socket.end(Buffer.from([0x88, 0])); return; }
        if (frame.opcode !== 1) continue;
        const parsed = JSON.parse(frame.text);
        connection.received.push(parsed);
        connection.onFrame(parsed);
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    onConnection(connection);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    close: () => { for (const s of sockets) s.destroy(); return new Promise((r) => server.close(r)); },
  };
}
