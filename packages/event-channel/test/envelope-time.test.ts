// The envelope's timestamp check (isRfc3339) against the regex + Date.UTC
// check it replaced (issue #35): the same verdict on every input, valid or
// near-valid, so no event accepted or refused before changes fate.
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isRfc3339 } from '../src/envelope.js';

const test = suite('envelope time');

/** The check as it was before #35, kept verbatim as the reference. */
const RFC3339 = /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
function referenceIsRfc3339(text: string): boolean {
  const match = RFC3339.exec(text);
  if (!match) return false;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return Number(match[3]) <= daysInMonth;
}

const pad = (value: number, width: number): string => String(value).padStart(width, '0');

/** Timestamps built field by field, each field a little past its range on both sides. */
const nearValid = fc
  .record({
    year: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(0, 4, 100, 1900, 2000, 2024, 2100, 2400)),
    month: fc.integer({ min: 0, max: 13 }),
    day: fc.integer({ min: 0, max: 32 }),
    t: fc.constantFrom('T', 't', ' ', 'X'),
    hour: fc.integer({ min: 0, max: 25 }),
    minute: fc.integer({ min: 0, max: 61 }),
    second: fc.integer({ min: 0, max: 61 }),
    fraction: fc.oneof(fc.constant(''), fc.constant('.'), fc.stringMatching(/^\.\d{1,12}$/)),
    zone: fc.oneof(
      fc.constantFrom('Z', 'z', '', 'UTC', '+00:00', '-00:00', '+0000', '+24:00', '-23:59', '+23:60', '+1:00', 'Z '),
      fc.tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 61 })).map(
        ([sign, h, m]) => `${sign}${pad(h, 2)}:${pad(m, 2)}`,
      ),
    ),
  })
  .map((f) => `${pad(f.year, 4)}-${pad(f.month, 2)}-${pad(f.day, 2)}${f.t}${pad(f.hour, 2)}:${pad(f.minute, 2)}:${pad(f.second, 2)}${f.fraction}${f.zone}`);

/** A timestamp with one character replaced, inserted or removed. */
const alphabet = fc.constantFrom(...'0123456789-+:.TtZz \n\u0660\uff10/x'.split(''));
const mutated = fc
  .tuple(nearValid, fc.nat(), alphabet, fc.constantFrom('replace', 'insert', 'delete'))
  .map(([text, position, char, kind]) => {
    const at = position % (text.length + 1);
    if (kind === 'insert') return text.slice(0, at) + char + text.slice(at);
    if (kind === 'delete') return text.slice(0, at) + text.slice(at + 1);
    return text.slice(0, at) + char + text.slice(at + 1);
  });

test('the same verdict as the regex + Date check on 30,000 generated near-valid timestamps', () => {
  let accepted = 0;
  fc.assert(
    fc.property(nearValid, (text) => {
      const verdict = isRfc3339(text);
      if (verdict) accepted++;
      return verdict === referenceIsRfc3339(text);
    }),
    { numRuns: 30_000 },
  );
  // The generator must exercise both sides, or agreement proves little.
  assert.ok(accepted > 1_000, `only ${accepted} accepted`);
});

test('the same verdict on 20,000 timestamps with one character replaced, inserted or removed', () => {
  fc.assert(fc.property(mutated, (text) => isRfc3339(text) === referenceIsRfc3339(text)), { numRuns: 20_000 });
});

test('the same verdict on 10,000 arbitrary strings', () => {
  fc.assert(fc.property(fc.string({ maxLength: 40 }), (text) => isRfc3339(text) === referenceIsRfc3339(text)), { numRuns: 10_000 });
});

test('edge cases: leap days and seconds, offsets, fractions, case, month lengths', () => {
  const cases: Array<[string, boolean]> = [
    ['2026-01-31T12:00:00.000Z', true],
    ['2026-01-31T12:00:00Z', true],
    ['2026-01-31t12:00:00z', true],
    ['2026-01-31T12:00:00.123456789+05:30', true],
    ['2026-01-31T12:00:00-23:59', true],
    ['2026-12-31T23:59:60Z', true], // leap second
    ['2024-02-29T00:00:00Z', true], // leap year
    ['2000-02-29T00:00:00Z', true], // divisible by 400
    ['1900-02-29T00:00:00Z', false], // divisible by 100
    ['2026-02-29T00:00:00Z', false],
    ['2026-02-30T00:00:00Z', false],
    ['2026-04-31T00:00:00Z', false],
    ['2026-04-30T00:00:00Z', true],
    ['0004-02-29T00:00:00Z', true],
    ['0000-02-29T00:00:00Z', false], // as Date.UTC judged it (year 0 taken as 1900)
    ['0000-01-01T00:00:00Z', true],
    ['9999-12-31T23:59:59Z', true],
    ['2026-00-10T00:00:00Z', false],
    ['2026-13-10T00:00:00Z', false],
    ['2026-01-00T00:00:00Z', false],
    ['2026-01-32T00:00:00Z', false],
    ['2026-01-31T24:00:00Z', false],
    ['2026-01-31T12:60:00Z', false],
    ['2026-01-31T12:00:61Z', false],
    ['2026-01-31T12:00:00.Z', false],
    ['2026-01-31T12:00:00', false],
    ['2026-01-31 12:00:00Z', false],
    ['2026-01-31T12:00:00+24:00', false],
    ['2026-01-31T12:00:00+05:60', false],
    ['2026-01-31T12:00:00+0530', false],
    ['2026-01-31T12:00:00Z\n', false],
    ['2026-01-31T12:00:00+05:30 ', false],
    ['\u0662026-01-31T12:00:00Z', false], // a non-ASCII digit
    ['+2026-01-31T12:00:00Z', false],
    ['', false],
  ];
  for (const [text, expected] of cases) {
    assert.is(isRfc3339(text), expected, JSON.stringify(text));
    assert.is(referenceIsRfc3339(text), expected, `reference: ${JSON.stringify(text)}`);
  }
});

test.run();
