import { randomBytes } from 'node:crypto';
import type { Authenticator } from '@eventwire/event-broker';

/**
 * Sign-in, kept small: a session token per person, minted by the web server
 * (the app's backend) and checked by the broker. Tokens live for
 * `sessionMs`; the page asks for a new one before then (`getToken`). The
 * clock is `Date`'s, so a test hub's virtual time expires them too.
 */
export function createSessions(sessionMs = 10 * 60_000) {
  const sessions = new Map<string, { user: string; expiresAt: number }>();
  const mint = (user: string, lifetimeMs = sessionMs): string => {
    const token = randomBytes(18).toString('base64url');
    sessions.set(token, { user, expiresAt: Date.now() + lifetimeMs });
    return token;
  };
  const authenticate: Authenticator = ({ token }) => {
    const session = token === undefined ? undefined : sessions.get(token);
    if (!session || session.expiresAt <= Date.now()) return undefined;
    return { id: session.user, expiresAt: session.expiresAt };
  };
  return { mint, authenticate };
}
