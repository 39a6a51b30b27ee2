// The Engine.IO endpoint's CORS preflight: long-polling is plain XHR/fetch,
// so every answer carries the headers (../../../cors.ts decides which origin)
// and a preflight (`OPTIONS`) is answered 204 without touching a session.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { corsHeaders } from '../../../cors.js';
import type { EngineCors } from './engine-options.js';

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
