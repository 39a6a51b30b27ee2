// FNV-1a, 64 bits: a synchronous hash of text that runs in Node and in
// browsers alike (node:crypto would make every module that imports it
// unloadable in a page: the package index reaches the Kafka files). For
// names and ids derived from names — things to tell apart, not secrets.

const OFFSET_BASIS = 0xcbf29ce484222325n;
const PRIME = 0x100000001b3n;
const MASK = 0xffffffffffffffffn;
const utf8 = new TextEncoder();

/** The 64-bit FNV-1a hash of `text`'s UTF-8; `basis` other than the standard one gives an independent hash of the same text. */
export function fnv1a64(text: string, basis: bigint = OFFSET_BASIS): bigint {
  let hash = basis;
  for (const byte of utf8.encode(text)) hash = ((hash ^ BigInt(byte)) * PRIME) & MASK;
  return hash;
}
