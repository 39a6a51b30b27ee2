// The `event-broker` command line: its flags and usage text, generated from
// the settings table, and the four layers a config is merged from — defaults,
// the config file (--config), the environment, the flags, each overriding the
// one before. A pure function of argv and the environment, so tests walk
// every setting without starting a process; cli.ts runs it on the real ones.
import { parseArgs } from 'node:util';
import { defaultMaxConnections } from './capacity.js';
import { loadBrokerConfigFile } from './config-file.js';
import { BrokerConfigError, mergeConfigLayers, validateConfig, type ConfigLayer, type EffectiveConfig, type ResolvedBrokerConfig } from './config.js';
import { settingEntries, type Setting, type SettingText } from './settings.js';

/** The flags that steer the command itself rather than set a setting. */
export const commandFlags = {
  config: { type: 'string', arg: '<file>', env: 'EVENTWIRE_CONFIG', help: 'a config file: .ts .mts .js .mjs .cjs .json (see the broker README)' },
  'print-config': { type: 'boolean', help: 'print the effective config, where each value came from, secrets masked; then exit' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
  version: { type: 'boolean', help: 'print the version and exit' },
} as const;

type FlagOption = { readonly type: 'string' | 'boolean'; readonly multiple?: boolean; readonly short?: string };

/** Every flag a setting declares (and its companion), as `parseArgs` takes them. */
function settingFlags(): Record<string, FlagOption> {
  const options: Record<string, FlagOption> = {};
  for (const [, setting] of settingEntries) {
    options[setting.flag] = setting.arg === undefined ? { type: 'boolean' } : { type: 'string', ...(setting.repeatable && { multiple: true }) };
    if (setting.companion) options[setting.companion.flag] = { type: 'string' };
  }
  return options;
}

/** The `parseArgs` options: the command's own flags, then one per setting. */
export const commandLineOptions: Readonly<Record<string, FlagOption>> = {
  ...Object.fromEntries(Object.entries(commandFlags).map(([flag, { type, ...rest }]) => [flag, { type, ...('short' in rest && { short: rest.short }) }])),
  ...settingFlags(),
};

const WIDTH = 80;
const COLUMN = 30;

/** `text` wrapped to the help's width, every line after the first indented to the description column. */
function wrap(first: string, text: string): string {
  const lines: string[] = [];
  let line = first.length >= COLUMN - 1 ? (lines.push(first), ' '.repeat(COLUMN)) : first.padEnd(COLUMN);
  for (const word of text.split(' ')) {
    if (line.trim() !== '' && line.length + word.length + 1 > WIDTH && line.length > COLUMN) {
      lines.push(line.trimEnd());
      line = ' '.repeat(COLUMN);
    }
    line += (line.length > COLUMN ? ' ' : '') + word;
  }
  lines.push(line.trimEnd());
  return lines.join('\n');
}

function defaultOfSetting(setting: Setting): string | undefined {
  if (setting.defaultText !== undefined) return setting.defaultText;
  if (setting.default === undefined) return undefined;
  if (setting.arg === '<size>' && typeof setting.default === 'number') return sizeText(setting.default);
  if (typeof setting.default === 'boolean') return setting.arg === '<on|off>' ? (setting.default ? 'on' : 'off') : String(setting.default);
  return typeof setting.default === 'object' ? JSON.stringify(setting.default) : String(setting.default);
}

/** 1048576 → 1mb (as a flag would take it). */
function sizeText(bytes: number): string {
  for (const [unit, factor] of [['gb', 1024 ** 3], ['mb', 1024 ** 2], ['kb', 1024]] as const) if (bytes % factor === 0) return `${bytes / factor}${unit}`;
  return String(bytes);
}

function describe(setting: Setting): string {
  const flag = `  --${setting.flag}${setting.arg ? ` ${setting.arg}` : ''}`;
  const fallback = defaultOfSetting(setting);
  const env = `${setting.env}${setting.repeatable ? ' (values joined by ",")' : ''}${fallback === undefined ? '' : `; default ${fallback}`}${setting.repeatable ? '; repeatable' : ''}`;
  const lines = [wrap(flag, setting.help), wrap('', env)];
  if (setting.companion) {
    const companion = setting.companion;
    lines.push(wrap(`  --${companion.flag} ${companion.arg}`, companion.help), wrap('', companion.env));
  }
  return lines.join('\n');
}

/** The --help text. */
export const usage = `event-broker — the eventwire event broker

Usage: event-broker [--config broker.config.ts] [options]

${wrap(`  --config ${commandFlags.config.arg}`, commandFlags.config.help)}
${wrap('', commandFlags.config.env)}
${wrap('  --print-config', commandFlags['print-config'].help)}
${wrap('  -h, --help', commandFlags.help.help)}
${wrap('  --version', commandFlags.version.help)}

Settings: each flag also has the environment variable shown, and a config file
key of the same name as in --print-config. Flags win over the environment, the
environment over the config file, the file over the defaults.

${settingEntries.map(([, setting]) => describe(setting)).join('\n')}

Endpoints: ws://host:port/ (eventwire protocol), /pubsub/ws?topics=… (Synap),
POST /pubsub/{topic}/publish, GET /pubsub/stats, /pubsub/topics,
/pubsub/{topic}/info, /health, /stats, /metrics, /cluster, /dashboard (with
--dashboard on); with --pusher also
ws://host:port/app/{key} (Pusher protocol 7), /apps/{id}/… (Pusher HTTP API),
POST /broadcasting/auth and /pusher/user-auth.`;

/** Every default the table holds as a value: the options' (`brokerDefaults`) and the config-only settings'. */
const staticDefaults = Object.fromEntries(settingEntries.flatMap(([key, setting]) => (setting.default === undefined ? [] : [[key, setting.default]])));

/** What the command line asks for. */
export type CommandLine =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | (EffectiveConfig & {
      readonly kind: 'run';
      /** The config file, from --config or EVENTWIRE_CONFIG. */
      readonly configPath: string | undefined;
      readonly printConfig: boolean;
    });

/**
 * Reads the command line: the flags in `argv` (without the node and script
 * paths), the variables in `env`, the config file they name; merged over the
 * defaults. Throws {@link BrokerConfigError} naming the flag, variable or
 * file key at fault.
 */
export async function readCommandLine(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<CommandLine> {
  let flags: Readonly<Record<string, string | boolean | readonly (string | boolean)[] | undefined>>;
  try {
    flags = parseArgs({ args: [...argv], options: commandLineOptions as Record<string, FlagOption & { multiple?: boolean }>, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new BrokerConfigError([(error as Error).message], { cause: error });
  }
  if (flags['help']) return { kind: 'help' };
  if (flags['version']) return { kind: 'version' };
  // The connection cap is derived from this process's open-file limit; --print-config says how.
  const cap = defaultMaxConnections();
  const defaults: ConfigLayer = {
    label: (key) => (key === 'maxConnections' ? `default: ${cap.reason}` : 'default'),
    values: { ...staticDefaults, maxConnections: cap.value } as ResolvedBrokerConfig,
  };
  const configPath = (flags['config'] as string | undefined) ?? env['EVENTWIRE_CONFIG'];
  const file: ConfigLayer = { label: () => `file ${configPath}`, values: configPath ? await loadBrokerConfigFile(configPath) : {} };
  const environment = layerFrom((flag, variable) => env[variable], (flag, variable) => variable, 'env');
  const flagLayer = layerFrom(
    (flag) => {
      const value = flags[flag];
      return value === undefined || value === false ? undefined : Array.isArray(value) ? value.map(String) : (value as string | true);
    },
    (flag) => `--${flag}`,
    'flag',
  );
  return {
    kind: 'run',
    configPath,
    printConfig: flags['print-config'] === true,
    ...mergeConfigLayers([defaults, file, environment, flagLayer]),
  };
}

/**
 * One layer from flags or variables: each setting's text read by its entry,
 * then validated by the same schema as a file, with problems named as the
 * user wrote them (`--port`, `EVENTWIRE_PORT`).
 */
function layerFrom(
  read: (flag: string, variable: string) => SettingText | undefined,
  name: (flag: string, variable: string) => string,
  label: string,
): ConfigLayer {
  const raw: Record<string, unknown> = {};
  const names = new Map<string, string>();
  const companions: Array<[path: string, name: string]> = [];
  const problems: string[] = [];
  for (const [key, setting] of settingEntries) {
    const { companion } = setting;
    const companionText = companion && read(companion.flag, companion.env);
    const text = read(setting.flag, setting.env) ?? (companionText !== undefined ? companion?.implies : undefined);
    if (text === undefined) continue;
    names.set(key, name(setting.flag, setting.env));
    if (companion) companions.push([companion.path, name(companion.flag, companion.env)]);
    try {
      raw[key] = setting.read(text, companionText === undefined ? undefined : String(companionText));
    } catch (error) {
      problems.push(`${name(setting.flag, setting.env)}: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new BrokerConfigError(problems);
  const values = validateConfig(raw, '', {
    keyName: (path) => companions.find(([prefix]) => path.startsWith(prefix))?.[1] ?? names.get(path.split(/[.[]/)[0]!) ?? path,
  });
  return { label: (key) => `${label} ${names.get(key) ?? key}`, values };
}
