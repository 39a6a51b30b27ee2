import { randomBytes } from 'node:crypto';
import type { Authenticator } from '@eventwire/event-broker';

/**
 * Sign-in, kept small: a session token per person, minted by the backend and
 * checked by the broker when Echo asks /broadcasting/auth (and by the backend
 * when an order is placed). Sessions do not expire in this demo.
 */
export function createSessions() {
  const sessions = new Map<string, string>();
  const mint = (user: string): string => {
    const token = randomBytes(18).toString('base64url');
    sessions.set(token, user);
    return token;
  };
  /** The user a token was minted for, if any. */
  const userOf = (token: string | undefined): string | undefined => (token === undefined ? undefined : sessions.get(token));
  const authenticate: Authenticator = ({ token }) => {
    const user = userOf(token);
    return user === undefined ? undefined : { id: user };
  };
  return { mint, userOf, authenticate };
}
