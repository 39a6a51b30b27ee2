// A load-generating client process, driven by the orchestrator over IPC.
// Subscribers count what arrives and, while recording, put publish→deliver
// latency into an HDR histogram; the publisher sends at saturation (windows
// closed by a server barrier, so in-flight work stays bounded) or at a fixed
// offered rate. Times are absolute (timeOrigin + now), so they compare
// across processes on this machine. At the fixed load a subscriber also keeps
// one histogram per second of the phase, by publish time, so one stall shows
// as one bad second rather than as the whole phase's p99.
import * as hdr from 'hdr-histogram-js';
import { connect, type BenchConnection } from './adapters.js';
import type { ClientKey } from './systems.js';

// Publishers cycle through `topics` in order, one publish each.
export type ClientCommand =
  /**
   * Opens `count` connections, `concurrency` at a time; connection i then
   * subscribes to every pattern of `subscriptions[i]` (all at once).
   */
  | { cmd: 'connect'; system: ClientKey; url: string; count: number; concurrency: number; subscriptions?: string[][] }
  /**
   * Starts or stops recording latency. With `origin` (an absolute time in ms,
   * when the publishers start), each delivery also goes into the histogram of
   * second ⌊(published − origin) / 1000⌋.
   */
  | { cmd: 'record'; on: boolean; origin?: number }
  | { cmd: 'count' }
  | { cmd: 'histogram' }
  /**
   * Every connection publishes `messagesPerConnection` in windows of `window`,
   * each closed by a barrier, all connections at once. Stops early, between
   * windows, once `maxMs` have passed: slow systems get a bounded phase.
   */
  | { cmd: 'saturate'; topics: string[]; messagesPerConnection: number; window: number; maxMs: number }
  /**
   * `perSecond` in total, spread round-robin over every connection, starting
   * at the absolute time `at` (ms) so that every publisher process and the
   * subscribers' per-second windows share one origin.
   */
  | { cmd: 'rate'; topics: string[]; perSecond: number; seconds: number; at: number }
  /** Closes every connection and forgets what was counted: the process is ready for another run (--smoke reuses it). */
  | { cmd: 'reset' }
  | { cmd: 'exit' };

export type ClientReply =
  | { type: 'ready' }
  /** After `reset`. */
  | { type: 'reset' }
  /** `ms`: from the first connection attempt until every connection was open and subscribed. */
  | { type: 'connected'; ms: number }
  | { type: 'count'; received: number }
  /** `perSecond[i]`: second i of the phase (empty when recording had no origin). */
  | { type: 'histogram'; encoded: string; perSecond: string[] }
  /** `sent`: messages published (fewer than asked when `maxMs` ran out). */
  | { type: 'done'; ms: number; sent: number }
  | { type: 'error'; message: string };

const now = (): number => performance.timeOrigin + performance.now();
const padding = 'x'.repeat(60); // the payload is ~100 bytes of JSON
let connections: BenchConnection[] = [];
let received = 0;
let recording = false;
const newHistogram = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
let histogram = newHistogram();
/** Per-second histograms of the fixed-load phase, and its origin (undefined: none kept). */
let perSecond: Array<ReturnType<typeof newHistogram>> = [];
let origin: number | undefined;

function onMessage(text: string): void {
  received++;
  if (!recording) return;
  // `"t":` in a JSON frame, `"t\":` where data is a JSON string inside it (the Pusher protocol).
  const sentAt = /"t\\?":([\d.]+)/.exec(text);
  if (!sentAt) return;
  const published = Number(sentAt[1]);
  const micros = Math.max(1, Math.round((now() - published) * 1000)); // µs
  histogram.recordValue(micros);
  if (origin === undefined) return;
  const second = Math.max(0, Math.floor((published - origin) / 1000));
  while (perSecond.length <= second) perSecond.push(newHistogram());
  perSecond[second]!.recordValue(micros);
}

function payload(): string {
  return `{"t":${now().toFixed(3)},"pad":"${padding}"}`;
}

async function handle(command: ClientCommand): Promise<ClientReply | undefined> {
  switch (command.cmd) {
    case 'connect': {
      const started = now();
      for (let opened = 0; opened < command.count; opened += command.concurrency) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(command.concurrency, command.count - opened) }, async (_, offset) => {
            const connection = await connect(command.system, command.url);
            connection.onMessage = onMessage;
            await Promise.all((command.subscriptions?.[opened + offset] ?? []).map((pattern) => connection.subscribe(pattern)));
            return connection;
          }),
        );
        connections.push(...batch);
      }
      return { type: 'connected', ms: now() - started };
    }
    case 'record':
      recording = command.on;
      if (command.on) {
        histogram = newHistogram();
        perSecond = [];
        origin = command.origin;
      }
      return undefined;
    case 'count':
      return { type: 'count', received };
    case 'histogram':
      return {
        type: 'histogram',
        encoded: hdr.encodeIntoCompressedBase64(histogram),
        perSecond: perSecond.map((second) => hdr.encodeIntoCompressedBase64(second)),
      };
    case 'saturate': {
      const started = now();
      const sentEach = await Promise.all(
        connections.map(async (publisher) => {
          let sent = 0;
          while (sent < command.messagesPerConnection && now() - started < command.maxMs) {
            for (let i = 0; i < command.window && sent < command.messagesPerConnection; i++, sent++) {
              publisher.publish(command.topics[sent % command.topics.length]!, payload());
            }
            await publisher.barrier();
          }
          return sent;
        }),
      );
      return { type: 'done', ms: now() - started, sent: sentEach.reduce((sum, sent) => sum + sent, 0) };
    }
    case 'rate': {
      const total = Math.round(command.perSecond * command.seconds);
      const started = command.at;
      if (started - now() > 0) await new Promise((resolve) => setTimeout(resolve, started - now()));
      for (let i = 0; i < total; i++) {
        const wait = started + (i * 1000) / command.perSecond - now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
        connections[i % connections.length]!.publish(command.topics[i % command.topics.length]!, payload());
      }
      await Promise.all(connections.map((publisher) => publisher.barrier()));
      return { type: 'done', ms: now() - started, sent: total };
    }
    case 'reset':
      // Anything the closed connections still receive must not count in the next run.
      for (const connection of connections) {
        connection.onMessage = () => {};
        connection.close();
      }
      connections = [];
      received = 0;
      recording = false;
      histogram = newHistogram();
      perSecond = [];
      origin = undefined;
      return { type: 'reset' };
    case 'exit':
      for (const connection of connections) connection.close();
      connections = [];
      setTimeout(() => process.exit(0), 100);
      return undefined;
  }
}

process.on('message', (command: ClientCommand) => {
  handle(command).then(
    (reply) => reply && process.send!(reply),
    (error: unknown) => process.send!({ type: 'error', message: String((error as Error)?.stack ?? error) }),
  );
});
process.send!({ type: 'ready' });
