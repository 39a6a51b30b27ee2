// isoNow (src/iso-now.ts; the channel's emits and the broker's own events): the envelopes' time text, formatted once per
// millisecond — it must read as `new Date().toISOString()` would, and move on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isoNow } from '../src/iso-now.js';

test('isoNow is the current time as toISOString writes it, and follows the clock', () => {
  const seen = new Set<string>();
  const deadline = Date.now() + 2000;
  // Until it has shown several milliseconds (bounded: the clock moves within 2 s).
  while (seen.size < 5 && Date.now() < deadline) {
    const before = Date.now();
    const text = isoNow();
    const after = Date.now();
    assert.match(text, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const millis = Date.parse(text);
    assert.ok(millis >= before && millis <= after, `${text} not between ${before} and ${after}`);
    assert.is(new Date(millis).toISOString(), text);
    seen.add(text);
  }
  assert.ok(seen.size >= 5, 'the text never changed');
});

test.run();
