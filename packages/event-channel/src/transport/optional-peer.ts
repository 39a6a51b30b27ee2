import { EventwireError } from '../errors.js';

/**
 * Imports an optional peer dependency by a specifier that is not a literal
 * (bundlers leave it alone, so browser builds never pull a server client
 * in); missing, it is an `unsupported_transport` error saying what to install.
 */
export async function loadOptionalPeer<T>(specifier: string, why: string): Promise<T> {
  try {
    return (await import(/* @vite-ignore */ specifier)) as T;
  } catch (error) {
    throw new EventwireError('unsupported_transport', `${why}: npm install ${specifier}`, { cause: error });
  }
}
