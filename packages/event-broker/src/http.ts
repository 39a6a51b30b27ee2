import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { EventwireError, toEventwireError, type ErrorCode } from '@eventwire/event-channel';

/**
 * HTTP status for each error code: one table, so every endpoint answers the
 * same failure with the same status. Bodies always carry the code itself.
 */
const statusByCode: { readonly [code in ErrorCode]: number } = {
  invalid_topic: 400,
  invalid_pattern: 400,
  unknown_event: 400,
  invalid_payload: 400,
  invalid_envelope: 400,
  invalid_frame: 400,
  invalid_url: 400,
  handler_failed: 500,
  buffer_overflow: 503,
  channel_closed: 503,
  unsupported_transport: 400,
  connection_closed: 503,
  payload_too_large: 413,
  unauthorized: 401,
  // Authenticated (or anonymous), and not allowed: a channel rule or a permission.
  forbidden: 403,
  rate_limited: 429,
  // A hook refused it: the request was understood and is well-formed, but not allowed.
  rejected: 403,
  limit_exceeded: 429,
  slow_consumer: 503,
  unsupported_protocol: 400,
  not_found: 404,
  method_not_allowed: 405,
  upgrade_required: 426,
  // Retryable: the broker is up but cannot store right now (a full disk, no file descriptors).
  unavailable: 503,
  timeout: 504,
  // Client-side only (a channel's unheard gap); here because the table covers every code.
  gap: 500,
  aborted: 499,
  // Raised at start-up, never on a request; here because the table covers every code.
  invalid_config: 400,
  // Raised when an AsyncAPI document is generated (at start-up or by the CLI), never on a request.
  unsupported_schema: 500,
  internal: 500,
};

/** The HTTP status for an error code. */
export function httpStatusFor(code: ErrorCode): number {
  return statusByCode[code];
}

/** Writes a JSON body. */
export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  response.end(text);
}

/** Writes `{ "error": { "code", "message", … } }` with the status for its code. */
export function sendError(response: ServerResponse, error: unknown): void {
  const failure = toEventwireError(error);
  // RFC 9110 §15.5.22: a 426 names the protocol to switch to; §11.6.1: a 401 names the scheme.
  sendJson(response, httpStatusFor(failure.code), { error: failure.toJSON() }, refusalHeaders(failure));
}

/**
 * Headers a refusal needs to be acted on: RFC 9110 §15.5.22 (a 426 names the
 * protocol to switch to), §11.6.1 (a 401 names the scheme), §10.2.3 (a 429 or
 * 503 says when to retry, in whole seconds).
 */
function refusalHeaders(failure: EventwireError): Record<string, string> {
  if (failure.code === 'upgrade_required') return { upgrade: 'websocket' };
  if (failure.code === 'unauthorized') return { 'www-authenticate': 'Bearer' };
  if (failure.retryAfterMs !== undefined) return { 'retry-after': String(Math.max(1, Math.ceil(failure.retryAfterMs / 1000))) };
  return {};
}

/**
 * The request's URL. Parsed against a fixed origin with the path appended, so
 * a path like `//host/x` stays a path (not an authority) and anything that is
 * not a URL is the client's `invalid_url`, never a 500.
 */
export function requestUrl(request: IncomingMessage): URL {
  const target = request.url ?? '/';
  if (!target.startsWith('/')) throw new EventwireError('invalid_url', `"${target.slice(0, 100)}" is not a path`);
  try {
    return new URL(`http://broker${target}`);
  } catch {
    throw new EventwireError('invalid_url', `"${target.slice(0, 100)}" is not a valid path`);
  }
}

/**
 * One percent-encoded path segment, decoded. Malformed encoding (`%ZZ`, a
 * truncated UTF-8 sequence) is the client's `invalid_url` (400), not a 500.
 */
export function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new EventwireError('invalid_url', `The path segment "${segment.slice(0, 100)}" is not valid percent-encoding`);
  }
}

/** The raw HTTP response for refusing a WebSocket upgrade, with a JSON error body. */
export function upgradeRefusal(error: EventwireError): string {
  const status = httpStatusFor(error.code);
  const body = JSON.stringify({ error: error.toJSON() });
  const extra = Object.entries(refusalHeaders(error))
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    extra +
    'Connection: close\r\n\r\n' +
    body
  );
}

/**
 * Answers a socket that is not let in with its HTTP error, and lets go of
 * its descriptor once the answer is written. Half-closed (`end()` alone) it
 * would hold the descriptor until the client closed its side: at the
 * connection cap, a burst of newcomers then ran the process out of
 * descriptors. The request was read whole, so closing leaves nothing unread.
 */
export function refuseSocket(socket: Socket, error: EventwireError): void {
  socket.end(upgradeRefusal(error), () => socket.destroy());
}

/**
 * Reads a request body of at most `limit` bytes as text ('' for none). Stops
 * reading as soon as the limit is passed (`payload_too_large`), so an
 * oversized body costs at most `limit` bytes of memory.
 */
export async function readTextBody(request: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    request.resume(); // drain without keeping it
    throw tooLarge(declared, limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      request.resume();
      throw tooLarge(size, limit);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a JSON request body of at most `limit` bytes (see readTextBody); `invalid_payload` for bad JSON, undefined for none. */
export async function readJsonBody(request: IncomingMessage, limit: number): Promise<unknown> {
  const text = await readTextBody(request, limit);
  return parseJsonBody(text);
}

/** `value` as a JSON object, or `invalid_payload` with `message` (an array or a scalar is no object). */
export function objectBody(value: unknown, message = 'The body must be a JSON object'): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new EventwireError('invalid_payload', message);
  return value as Record<string, unknown>;
}

/** A request body's JSON; `invalid_payload` for bad JSON, undefined for an empty body. */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new EventwireError('invalid_payload', 'The request body is not valid JSON');
  }
}

function tooLarge(size: number, limit: number): EventwireError {
  return new EventwireError('payload_too_large', `Body of ${size}+ bytes exceeds the limit of ${limit}`);
}

/**
 * The HTTP server's `clientError`: Node answers a request it cannot parse
 * with a bare 400; answer in JSON with a code, like every other refusal.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || error.code === 'ECONNRESET') return void socket.destroy();
  const failure =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new EventwireError('payload_too_large', 'The request headers are too large')
      : new EventwireError('invalid_frame', `Malformed HTTP request (${error.code ?? error.message})`);
  refuseSocket(socket, failure);
}
