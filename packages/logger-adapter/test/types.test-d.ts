// Which channels a logger accepts, checked by tsc in the test command.
import { z } from 'zod';
import { EventChannel, defineEvents } from '@eventwire/event-channel';
import { createEventLogger, logEvents } from '../src/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | void {}

createEventLogger({ channel: new EventChannel({ url: 'memory://a', events: logEvents }), service: 'a' });
createEventLogger({ channel: new EventChannel({ url: 'memory://b' }), service: 'b' }); // untyped: fine
// A map that merges the log families with the app's own events works too.
const app = defineEvents({ ...logEvents, 'order.created': z.object({ id: z.string() }) });
createEventLogger({ channel: new EventChannel({ url: 'memory://c', events: app }), service: 'c' });
const orders = defineEvents({ 'order.created': z.object({ id: z.string() }) });
// @ts-expect-error a channel whose map has no log topics would refuse every record
createEventLogger({ channel: new EventChannel({ url: 'memory://d', events: orders }), service: 'd' });

const viewer = new EventChannel({ url: 'memory://v', events: logEvents });
viewer.on('log.*.payments', (record, event) => {
  expectType<Equal<typeof record.level, 'debug' | 'info' | 'warn' | 'error' | 'fatal'>>();
  expectType<Equal<typeof record.fields, Record<string, unknown>>>();
  expectType<Equal<typeof event.topic, `log.debug.${string}` | `log.info.${string}` | `log.warn.${string}` | `log.error.${string}` | `log.fatal.${string}`>>();
});
