// `eventwire asyncapi`: the AsyncAPI 3.0 document of an event map and, when
// given, a broker config, written to a file or stdout. The generator lives in
// @eventwire/event-broker (it reads broker configs); this package has it as
// an optional peer dependency only, so it is imported only when the command
// runs (as `tail` is loaded only for `tail`), and its absence — or an older
// one without the generator — is a usage problem with a fix.
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isStandardSchema, type EventMap } from '@eventwire/event-channel';

/** What the command reads from its flags. */
export interface AsyncApiCommandOptions {
  readonly config?: string | undefined;
  /** `path/to/module.ts#exportName` */
  readonly events?: string | undefined;
  readonly out?: string | undefined;
  readonly title?: string | undefined;
  readonly version?: string | undefined;
}

/** Bad flags, or what the command needs is not installed: exit 2. */
export class AsyncApiUsageError extends Error {}

/** Writes the document; resolves with where it went (`stdout` or the file). */
export async function runAsyncApiCommand(options: AsyncApiCommandOptions): Promise<string> {
  if (options.config === undefined && options.events === undefined) {
    throw new AsyncApiUsageError('asyncapi needs --config FILE or --events MODULE#EXPORT');
  }
  const broker = await loadBroker();
  const config = options.config === undefined ? undefined : await broker.loadBrokerConfigFile(options.config);
  let events: EventMap | undefined;
  if (options.events !== undefined) {
    const at = options.events.lastIndexOf('#');
    if (at <= 0 || at === options.events.length - 1) throw new AsyncApiUsageError(`--events takes MODULE#EXPORT (e.g. src/events.ts#shop), got "${options.events}"`);
    const map = await broker.loadModuleExport(options.events.slice(0, at), options.events.slice(at + 1));
    if (map === null || typeof map !== 'object' || !Object.values(map).every(isStandardSchema)) {
      throw new AsyncApiUsageError(`--events ${options.events} is not an event map (topic → schema, from defineEvents)`);
    }
    events = map as EventMap;
  }
  const document = broker.asyncApiDocument({
    ...(events && { events }),
    ...(config && { config }),
    info: { ...(options.title !== undefined && { title: options.title }), ...(options.version !== undefined && { version: options.version }) },
  });
  const text = `${JSON.stringify(document, null, 2)}\n`;
  if (options.out === undefined) {
    process.stdout.write(text);
    return 'stdout';
  }
  await writeFile(options.out, text);
  return options.out;
}

type BrokerModule = typeof import('@eventwire/event-broker');

/** What the command calls: an @eventwire/event-broker of another version (one older than the generator) may lack some. */
const usedExports = ['asyncApiDocument', 'loadBrokerConfigFile', 'loadModuleExport'] as const;

/** @eventwire/event-broker, or a usage error naming the version to install: none loads, or it lacks what the command calls. */
async function loadBroker(): Promise<BrokerModule> {
  // The peer dependency is this package's own version (pnpm packs `workspace:^` as `^` it): the one to install.
  const install = `npm install @eventwire/event-broker@${ownVersion()}`;
  let broker: Partial<BrokerModule>;
  try {
    broker = await import('@eventwire/event-broker');
  } catch (error) {
    throw new AsyncApiUsageError(
      `asyncapi needs @eventwire/event-broker, which cannot be loaded here (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): ${install}`,
    );
  }
  const missing = usedExports.filter((name) => typeof broker[name] !== 'function');
  if (missing.length > 0) {
    throw new AsyncApiUsageError(`asyncapi needs the @eventwire/event-broker of its own version: the one installed has no ${missing.join(' or ')}: ${install}`);
  }
  return broker as BrokerModule;
}

/** This package's version, from its package.json (one level above src/ and dist/ alike). */
function ownVersion(): string {
  return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
}
