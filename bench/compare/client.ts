// A load-generating client process, driven by the orchestrator over IPC.
// Subscribers count what arrives and, while recording, put publish→deliver
// latency into an HDR histogram; the publisher sends at saturation (windows
// closed by a server barrier, so in-flight work stays bounded) or at a fixed
// offered rate. Times are absolute (timeOrigin + now), so they compare
// across processes on this machine.
import * as hdr from 'hdr-histogram-js';
import { connect, type BenchConnection } from './adapters.js';
import type { ClientKey } from './systems.js';

export type ClientCommand =
  | { cmd: 'connect'; system: ClientKey; url: string; count: number; subscribe?: string }
  | { cmd: 'record'; on: boolean }
  | { cmd: 'count' }
  | { cmd: 'histogram' }
  | { cmd: 'saturate'; topic: string; messages: number; window: number }
  | { cmd: 'rate'; topic: string; perSecond: number; seconds: number }
  /** Every connection publishes `messagesPerConnection`, all at once (fan-in). */
  | { cmd: 'saturate-each'; topic: string; messagesPerConnection: number; window: number }
  /** `perSecond` in total, spread round-robin over every connection (fan-in). */
  | { cmd: 'rate-each'; topic: string; perSecond: number; seconds: number }
  | { cmd: 'exit' };

export type ClientReply =
  | { type: 'ready' }
  | { type: 'count'; received: number }
  | { type: 'histogram'; encoded: string }
  | { type: 'done'; ms: number }
  | { type: 'error'; message: string };

const now = (): number => performance.timeOrigin + performance.now();
const padding = 'x'.repeat(60); // the payload is ~100 bytes of JSON
let connections: BenchConnection[] = [];
let received = 0;
let recording = false;
let histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });

function onMessage(text: string): void {
  received++;
  if (!recording) return;
  const sentAt = /"t":([\d.]+)/.exec(text);
  if (sentAt) histogram.recordValue(Math.max(1, Math.round((now() - Number(sentAt[1])) * 1000))); // µs
}

function payload(): string {
  return `{"t":${now().toFixed(3)},"pad":"${padding}"}`;
}

async function handle(command: ClientCommand): Promise<ClientReply | undefined> {
  switch (command.cmd) {
    case 'connect': {
      for (let opened = 0; opened < command.count; opened += 50) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(50, command.count - opened) }, () => connect(command.system, command.url)),
        );
        for (const connection of batch) {
          connection.onMessage = onMessage;
          if (command.subscribe) await connection.subscribe(command.subscribe);
        }
        connections.push(...batch);
      }
      return { type: 'ready' };
    }
    case 'record':
      recording = command.on;
      if (command.on) {
        histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
      }
      return undefined;
    case 'count':
      return { type: 'count', received };
    case 'histogram':
      return { type: 'histogram', encoded: hdr.encodeIntoCompressedBase64(histogram) };
    case 'saturate': {
      const publisher = connections[0]!;
      const started = now();
      for (let sent = 0; sent < command.messages; ) {
        for (let i = 0; i < command.window && sent < command.messages; i++, sent++) publisher.publish(command.topic, payload());
        await publisher.barrier();
      }
      return { type: 'done', ms: now() - started };
    }
    case 'rate': {
      const publisher = connections[0]!;
      const total = Math.round(command.perSecond * command.seconds);
      const started = now();
      for (let i = 0; i < total; i++) {
        const wait = started + (i * 1000) / command.perSecond - now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
        publisher.publish(command.topic, payload());
      }
      await publisher.barrier();
      return { type: 'done', ms: now() - started };
    }
    case 'saturate-each': {
      const started = now();
      await Promise.all(
        connections.map(async (publisher) => {
          for (let sent = 0; sent < command.messagesPerConnection; ) {
            for (let i = 0; i < command.window && sent < command.messagesPerConnection; i++, sent++) {
              publisher.publish(command.topic, payload());
            }
            await publisher.barrier();
          }
        }),
      );
      return { type: 'done', ms: now() - started };
    }
    case 'rate-each': {
      const total = Math.round(command.perSecond * command.seconds);
      const started = now();
      for (let i = 0; i < total; i++) {
        const wait = started + (i * 1000) / command.perSecond - now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
        connections[i % connections.length]!.publish(command.topic, payload());
      }
      await Promise.all(connections.map((publisher) => publisher.barrier()));
      return { type: 'done', ms: now() - started };
    }
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
