// Security schemes from how the broker authenticates. AsyncAPI 3 has no
// "bearer token" type of its own: a bearer credential is `http` with scheme
// `bearer` (`bearerFormat: 'JWT'` for JWTs), and the `?token=` a browser
// sends instead of a header is `httpApiKey` in the query — the broker reads a
// credential from either (http-api.ts and the upgrade alike).
import { authenticates, type AuthFacts } from './facts.js';

/** One security scheme object (AsyncAPI 3.0 `components.securitySchemes`). */
export interface AsyncApiSecurityScheme {
  readonly type: 'http' | 'httpApiKey';
  readonly description: string;
  readonly scheme?: 'bearer';
  readonly bearerFormat?: string;
  readonly name?: string;
  readonly in?: 'query' | 'header';
}

/** The schemes the broker accepts (none when it does not authenticate), by id. */
export function securitySchemesOf(auth: AuthFacts): Record<string, AsyncApiSecurityScheme> {
  if (!authenticates(auth)) return {};
  const schemes: Record<string, AsyncApiSecurityScheme> = {};
  if (auth.jwt) {
    schemes['jwt'] = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A JWT (HS256 with jwtSecret, or a key from jwksUrl) as Authorization: Bearer <jwt>.' };
  }
  if (auth.apiKeys.length > 0) {
    schemes['apiKey'] = { type: 'http', scheme: 'bearer', description: 'An API key as Authorization: Bearer <key> (or as the password of Basic auth); each key stands for a user.' };
  }
  if (auth.custom && !auth.jwt && auth.apiKeys.length === 0) {
    schemes['bearer'] = { type: 'http', scheme: 'bearer', description: "A credential the broker's authenticate function verifies, as Authorization: Bearer <token>." };
  }
  schemes['tokenQuery'] = { type: 'httpApiKey', name: 'token', in: 'query', description: 'The same credential as ?token=, for clients that cannot set headers (browsers opening a WebSocket).' };
  return schemes;
}

/** The Pusher surface's own scheme: apps sign, connections show only the app key. */
export const pusherSecurityScheme: AsyncApiSecurityScheme = {
  type: 'httpApiKey',
  name: 'auth_key',
  in: 'query',
  description:
    "A Pusher app's key. Connections name it in the path; private and presence subscriptions carry an HMAC-SHA256 signature from your auth endpoint, and the HTTP API (/apps/{id}/…) is signed with the app secret (auth_key, auth_signature).",
};
