// CORS for an Engine.IO endpoint reached by browsers on other origins:
// long-polling is plain XHR/fetch, so every answer carries the headers and a
// preflight (`OPTIONS`) is answered 204 without touching a session.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EngineCors } from './engine-options.js';

/** The CORS headers for an answer to `request` (none when CORS is off or its origin is not allowed). */
export function corsHeaders(request: IncomingMessage, cors: EngineCors | undefined): Record<string, string> {
  if (!cors) return {};
  const origin = request.headers.origin;
  // Credentials forbid `*` (Fetch standard): the allowed origin is echoed, so caches must key on it.
  if (cors.origin === '*' && !cors.credentials) return { 'access-control-allow-origin': '*' };
  if (origin === undefined) return { vary: 'Origin' };
  if (cors.origin !== '*' && !cors.origin.includes(origin)) return { vary: 'Origin' };
  return { 'access-control-allow-origin': origin, vary: 'Origin', ...(cors.credentials && { 'access-control-allow-credentials': 'true' }) };
}

/** Answers a preflight: 204, the methods long-polling uses, the headers the browser asked for. */
export function answerPreflight(request: IncomingMessage, response: ServerResponse, cors: EngineCors | undefined): void {
  const asked = request.headers['access-control-request-headers'];
  const allowed = corsHeaders(request, cors);
  response.writeHead(204, {
    ...allowed,
    ...('access-control-allow-origin' in allowed && {
      'access-control-allow-methods': 'GET,HEAD,PUT,PATCH,POST,DELETE',
      ...(asked && { 'access-control-allow-headers': asked }),
    }),
    'content-length': '0',
  });
  response.end();
}
