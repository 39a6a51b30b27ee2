// What an authenticator says of itself, for documents that describe the
// broker (the AsyncAPI served at /asyncapi.json): the built-in ones say they
// verify JWTs or API keys (with each key's permissions); a function of your
// own says nothing, and is described as some bearer credential. Kept on the
// function under a symbol, so an Authenticator stays a plain function.
import type { ApiKey } from './api-keys.js';
import type { Authenticator } from './authenticate.js';

const described: unique symbol = Symbol('eventwire.authDescription');

/** How an authenticator checks credentials, as far as a document can say. */
export interface AuthDescription {
  /** It verifies JWTs. */
  readonly jwt: boolean;
  /** The API keys it knows, each standing for a user with its permissions. */
  readonly apiKeys: readonly ApiKey[];
  /** Part of it is a function of the application's own. */
  readonly custom: boolean;
}

/** `authenticate`, saying how it checks. */
export function describeAuthenticator<T extends Authenticator>(authenticate: T, description: AuthDescription): T {
  return Object.assign(authenticate, { [described]: description });
}

/** What `authenticate` says of itself; a function that says nothing is the application's own. */
export function authDescriptionOf(authenticate: Authenticator): AuthDescription {
  return (authenticate as { [described]?: AuthDescription })[described] ?? { jwt: false, apiKeys: [], custom: true };
}
