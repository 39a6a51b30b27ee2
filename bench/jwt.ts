// HS256 JWTs for the benchmarks, signed with node:crypto: the harness must
// not depend on the library (jose) whose verification it measures.
import { createHmac } from 'node:crypto';

/** An HS256 JWT for `sub`, valid for an hour. */
export function hs256(secret: string, sub: string): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ sub, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}
