/**
 * Event ids are ULIDs: 26 Crockford base32 characters, 48 bits of millisecond
 * time then 80 random bits. They sort lexicographically by creation time, which
 * is what history and recovery need ("everything after id X"), and within one
 * generator they are strictly increasing even inside one millisecond or when
 * the clock steps back (the random part is incremented instead).
 */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_CHARS = 10;
const RANDOM_CHARS = 16;
const MAX_TIME = 2 ** 48 - 1;
const ALPHABET_CODES = Uint8Array.from(ALPHABET, (char) => char.charCodeAt(0));

/** Returns a function producing strictly increasing ULIDs. */
export function createEventIdGenerator(now: () => number = Date.now): () => string {
  let lastTime = -1;
  const random = new Uint8Array(RANDOM_CHARS);
  // The id's character codes, turned into one flat string per id. Appending
  // character by character would leave every id a chain of 16 cons strings
  // (~490 bytes each instead of ~60), and ids are kept: by each connection,
  // by every event history holds.
  const codes = new Uint8Array(TIME_CHARS + RANDOM_CHARS);
  return function nextEventId(): string {
    const time = Math.min(Math.max(Math.floor(now()), 0), MAX_TIME);
    if (time <= lastTime) {
      incrementRandom(random);
    } else {
      lastTime = time;
      encodeTime(time, codes);
      globalThis.crypto.getRandomValues(random);
      // 256 is a multiple of 32, so masking keeps every digit uniform.
      for (let i = 0; i < RANDOM_CHARS; i++) random[i]! &= 31;
    }
    for (let i = 0; i < RANDOM_CHARS; i++) codes[TIME_CHARS + i] = ALPHABET_CODES[random[i]!]!;
    return String.fromCharCode.apply(null, codes as unknown as number[]);
  };
}

/**
 * The ULID with this time (ms) and these 16 random digits (each byte masked
 * to 0..31): an id derived from something rather than generated, so the same
 * inputs give the same id (a Kafka record read twice is one event).
 */
export function eventIdOf(time: number, digits: Uint8Array): string {
  const codes = new Uint8Array(TIME_CHARS + RANDOM_CHARS);
  encodeTime(Math.min(Math.max(Math.floor(time), 0), MAX_TIME), codes);
  for (let i = 0; i < RANDOM_CHARS; i++) codes[TIME_CHARS + i] = ALPHABET_CODES[(digits[i] ?? 0) & 31]!;
  return String.fromCharCode.apply(null, codes as unknown as number[]);
}

/** The time's ten characters into the first ten codes. */
function encodeTime(time: number, codes: Uint8Array): void {
  for (let i = 0; i < TIME_CHARS; i++) codes[i] = ALPHABET_CODES[Math.floor(time / 32 ** (TIME_CHARS - 1 - i)) % 32]!;
}

function incrementRandom(digits: Uint8Array): void {
  for (let i = digits.length - 1; i >= 0; i--) {
    if (digits[i]! < 31) {
      digits[i]!++;
      return;
    }
    digits[i] = 0;
  }
  // 80 bits exhausted within one millisecond: wrapping would break ordering, and
  // it takes 2^80 ids, so this is a broken clock or generator, not load.
  throw new RangeError('Event id space exhausted within one millisecond');
}

/** The creation time (ms since epoch) encoded in a ULID, or undefined if `id` is not one. */
export function eventIdTime(id: string): number | undefined {
  if (id.length !== TIME_CHARS + RANDOM_CHARS) return undefined;
  let time = 0;
  for (let i = 0; i < TIME_CHARS; i++) {
    const digit = ALPHABET.indexOf(id[i]!.toUpperCase());
    if (digit < 0) return undefined;
    time = time * 32 + digit;
  }
  return time;
}
