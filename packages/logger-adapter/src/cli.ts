// `eventwire`: publish, subscribe, read history and presence from a terminal,
// as `nats pub/sub` does, against any URL a channel supports. It lives here,
// beside the logger, because `eventwire tail` needs the log events this
// package defines, and the channel package must not depend on its users.
//
// Exit codes (documented in the README, asserted by test/cli.test.ts):
//   0  done (sub/tail: stopped by Ctrl-C)
//   1  the operation failed (emit refused, invalid topic or pattern…)
//   2  usage: unknown command, missing argument, data that is not JSON,
//      asyncapi without --config/--events, or without an @eventwire/event-broker
//      that has the generator (none installed, or an older one)
//   3  cannot connect: the broker is unreachable within --timeout, or refused the credentials
import { parseArgs } from 'node:util';
import { AsyncApiUsageError, runAsyncApiCommand } from './asyncapi-command.js';
import { EventChannel, EventwireError, toEventwireError, type EventEnvelope, type HistorySince } from '@eventwire/event-channel';

const usage = `eventwire — talk to an eventwire broker from a terminal

Usage:
  eventwire pub TOPIC JSON [--ack]          publish one event (--ack: wait for the broker's acknowledgement)
  eventwire sub PATTERN [--json] [--since OFFSET|earliest]
                                            print matching events until Ctrl-C (--since: history first, then live)
  eventwire history PATTERN [--limit N] [--last N] [--json]
                                            print stored events (--last N: the newest N) and exit
  eventwire presence CHANNEL [--json]       list who is on a presence channel: "id info" lines (--json: JSON lines);
                                            it joins briefly, so this CLI's user is listed too
  eventwire tail [...]                      watch log events (eventwire tail --help)
  eventwire asyncapi (--config FILE | --events MODULE#EXPORT) [--out FILE] [--title T] [--version V]
                                            write the AsyncAPI 3.0 document of an event map and a broker
                                            config (needs @eventwire/event-broker); stdout without --out

Options:
  --url <url>       ws://, wss://, nats://, redis://, postgres://, memory:// (EVENTWIRE_URL, default ws://127.0.0.1:15500)
  --token <token>   credentials for a broker that authenticates (EVENTWIRE_TOKEN)
  --timeout <ms>    how long to wait for the broker (default 5000)
  -h, --help        show this help

Exit codes: 0 done, 1 operation failed, 2 usage, 3 cannot connect.`;

const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

class UsageError extends Error {}

const [command, ...rest] = process.argv.slice(2);

if (command === 'tail') {
  // The logs viewer keeps its own flags; it reads them from argv.
  process.argv = [process.argv[0]!, 'eventwire-tail', ...rest];
  await import('./tail.js');
} else {
  process.exitCode = await main(command, rest);
}

async function main(name: string | undefined, args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    return fail(EXIT.usage, 'usage', (error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help || name === undefined || name === '--help' || name === '-h') {
    console.log(usage);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  // An empty variable is an unset one (`EVENTWIRE_TOKEN= eventwire …`).
  const url = values.url ?? (process.env['EVENTWIRE_URL'] || 'ws://127.0.0.1:15500');
  const token = values.token ?? (process.env['EVENTWIRE_TOKEN'] || undefined);
  const timeoutMs = Number(values.timeout ?? 5000);
  try {
    switch (name) {
      case 'pub': {
        const [topic, json] = need(positionals, ['TOPIC', 'JSON']);
        const data = parseJson(json);
        return await withChannel(url, token, timeoutMs, async (channel) => {
          const sent = await channel.emit(topic, data, { ack: values.ack === true });
          if (values.ack) console.log(JSON.stringify({ id: sent.id, ...(sent.offset !== undefined && { offset: sent.offset }) }));
          return EXIT.ok;
        });
      }
      case 'sub': {
        const [pattern] = need(positionals, ['PATTERN']);
        const since = values.since === undefined ? undefined : (values.since as HistorySince);
        return await withChannel(url, token, timeoutMs, async (channel) => {
          const stopped = new Promise<void>((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
          });
          const off = channel.on(pattern, (_data, event) => console.log(format(event, values.json === true)), since === undefined ? {} : { since });
          await off.ready;
          console.error(`eventwire: subscribed to ${pattern} on ${redact(url)}`);
          await stopped;
          return EXIT.ok;
        });
      }
      case 'history': {
        const [pattern] = need(positionals, ['PATTERN']);
        const limit = values.limit === undefined ? Infinity : positiveInt(values.limit, '--limit');
        const since: HistorySince = values.last === undefined ? 'earliest' : { last: positiveInt(values.last, '--last') };
        return await withChannel(url, token, timeoutMs, async (channel) => {
          let printed = 0;
          // Replay first, then live: `ready` resolves once the stored events were handed over.
          const off = channel.on(pattern, (_data, event) => {
            if (printed++ < limit) console.log(format(event, values.json === true));
          }, { since });
          await off.ready;
          off();
          return EXIT.ok;
        });
      }
      case 'presence': {
        const [room_] = need(positionals, ['CHANNEL']);
        if (!room_.startsWith('presence-')) throw new UsageError(`a presence channel's name starts with "presence-", got "${room_}"`);
        const roomName = room_ as `presence-${string}`;
        return await withChannel(url, token, timeoutMs, async (channel) => {
          const room = channel.presence(roomName);
          await room.ready;
          const members = room.members();
          for (const member of members) console.log(values.json === true ? JSON.stringify(member) : `${member.id} ${JSON.stringify(member.info)}`);
          // It joined to read the list (a presence channel has no read-only view): say so, off stdout.
          console.error(`eventwire: ${members.length} member${members.length === 1 ? '' : 's'} on ${roomName} (this CLI's user among them while it reads)`);
          room.leave();
          return EXIT.ok;
        });
      }
      case 'asyncapi': {
        if (positionals.length > 0) throw new UsageError(`asyncapi takes no arguments, got "${positionals[0]}"`);
        const where = await runAsyncApiCommand(values);
        if (where !== 'stdout') console.error(`eventwire: AsyncAPI document written to ${where}`);
        return EXIT.ok;
      }
      default:
        throw new UsageError(`unknown command "${name}" (pub, sub, history, presence, tail, asyncapi)`);
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof AsyncApiUsageError) return fail(EXIT.usage, 'usage', error.message);
    const failure = toEventwireError(error);
    return fail(EXIT.failed, failure.code, failure.message);
  }
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      timeout: { type: 'string' },
      ack: { type: 'boolean' },
      json: { type: 'boolean' },
      since: { type: 'string' },
      config: { type: 'string' },
      events: { type: 'string' },
      out: { type: 'string' },
      title: { type: 'string' },
      version: { type: 'string' },
      limit: { type: 'string' },
      last: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

/** Opens a channel, waits for it (bounded), runs `work`, closes. A channel that cannot connect is exit 3 with its reason. */
async function withChannel(url: string, token: string | undefined, timeoutMs: number, work: (channel: EventChannel) => Promise<number>): Promise<number> {
  let channel: EventChannel;
  try {
    channel = new EventChannel({ url, ...(token !== undefined && { getToken: () => token }), onError: () => {} });
  } catch (error) {
    const failure = toEventwireError(error);
    return fail(EXIT.usage, failure.code, failure.message);
  }
  try {
    await channel.ready({ within: timeoutMs });
  } catch (error) {
    await channel.close();
    // The reason the broker could not be reached is the timeout's cause (or the closed channel's).
    const failure = toEventwireError(error);
    const cause = failure.cause instanceof EventwireError ? failure.cause : failure;
    return fail(EXIT.unreachable, cause.code, `cannot connect to ${redact(url)}: ${cause.message}`);
  }
  try {
    return await work(channel);
  } finally {
    await channel.close();
  }
}

function format(event: EventEnvelope, json: boolean): string {
  if (json) return JSON.stringify(event);
  const offset = event.offset === undefined ? '' : ` [${event.offset}]`;
  return `${event.time} ${event.topic}${offset} ${JSON.stringify(event.data)}`;
}

function need<const TNames extends readonly string[]>(positionals: string[], names: TNames): { [K in keyof TNames]: string } {
  if (positionals.length < names.length) throw new UsageError(`missing ${names.slice(positionals.length).join(' ')}`);
  return positionals.slice(0, names.length) as { [K in keyof TNames]: string };
}

function parseJson(text: string | undefined): unknown {
  try {
    return JSON.parse(text!);
  } catch {
    throw new UsageError(`JSON data expected, got ${JSON.stringify(text)}`);
  }
}

function positiveInt(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${flag} must be a positive integer`);
  return value;
}

/** The URL without credentials or query (a token may be there). */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return url;
  }
}

/** One line on stderr: `eventwire: <code>: <message>`. */
function fail(exit: number, code: string, message: string): number {
  console.error(`eventwire: ${code}: ${message}`);
  return exit;
}
