// The contract of one setting (what settings.ts declares for each): how its
// flag's or variable's text is read, and the shape of an entry, with
// `option<T>()` refusing at compile time a schema whose output does not fit
// the option's type.
import { z } from 'zod';

// ---------------------------------------------------------------------------
// Text: how a flag's or a variable's value is read

/** `1mb`, `512kb`, `64KiB`, or a byte count → bytes. Throws with a readable message. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a size (try 1mb, 512kb or a byte count)`);
  const unit = (match[2] ?? 'b').toLowerCase();
  const factor = unit === 'b' ? 1 : unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 ** 2 : 1024 ** 3;
  const bytes = Math.floor(Number(match[1]) * factor);
  if (bytes < 1) throw new Error(`"${text}" is too small`);
  return bytes;
}

/** `500ms`, `90s`, `30m`, `24h`, `7d`, or milliseconds → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration (try 90s, 30m, 24h, 7d or milliseconds)`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 'ms').toLowerCase() as 'ms'];
  const ms = Math.round(Number(match[1]) * factor);
  if (ms < 1) throw new Error(`"${text}" is too short`);
  return ms;
}

/**
 * One `--pusher` flag: `id:key:secret` for an app, or `dev` for the
 * development app (a secret cannot hold ':' here; use a config file for one that does).
 */
export function parsePusherFlag(text: string): { id: string; key: string; secret: string } | 'dev' {
  if (text === 'dev') return 'dev';
  const [id = '', key = '', secret = '', ...rest] = text.split(':');
  if (rest.length > 0 || id === '' || key === '' || secret === '') throw new Error(`"${text.replace(/:[^:]*$/, ':***')}" is not id:key:secret (or "dev")`);
  return { id, key, secret };
}

/** One `--pusher-webhook` flag: `app-id=url` (every event type of that app to the URL). */
export function parsePusherWebhookFlag(text: string): { app: string; url: string } {
  const at = text.indexOf('=');
  if (at <= 0 || at === text.length - 1) throw new Error(`"${text.replace(/\?.*$/, '?***')}" is not app-id=url`);
  return { app: text.slice(0, at), url: text.slice(at + 1) };
}

/**
 * One `--history` flag: `pattern[:maxEvents[:maxAge]]`, e.g. `order.#:10000:24h`
 * (a pattern never holds ':').
 */
export function parseHistoryFlag(text: string): { pattern: string; maxEvents?: number; maxAge?: string } {
  const [pattern = '', maxEvents, maxAge, ...rest] = text.split(':');
  if (rest.length > 0) throw new Error(`"${text}" has too many parts (pattern:maxEvents:maxAge)`);
  if (maxEvents !== undefined && maxEvents !== '' && !/^\d+$/.test(maxEvents)) throw new Error(`"${maxEvents}" in "${text}" is not a count`);
  return {
    pattern,
    ...(maxEvents !== undefined && maxEvents !== '' && { maxEvents: Number(maxEvents) }),
    ...(maxAge !== undefined && maxAge !== '' && { maxAge }),
  };
}

/**
 * What a flag or a variable gave: one text, or (a repeatable flag) several.
 * A repeatable setting's variable holds its values joined by ",".
 */
export type SettingText = string | true | readonly string[];

// Readers turn text into what the schema validates. Text that is not what the
// reader expects stays text, so the schema's message names it ("expected a
// port number, got "abc"").
export const asText = (text: SettingText): unknown => text;
export const wholeNumber = (text: SettingText): unknown => (typeof text === 'string' && /^\d+$/.test(text) ? Number(text) : text);
export const decimal = (text: SettingText): unknown => (typeof text === 'string' && /^\d+(\.\d+)?$/.test(text) ? Number(text) : text);
export const list = (text: SettingText): readonly string[] => (Array.isArray(text) ? text : String(text).split(',')).map((item) => item.trim()).filter((item) => item !== '');
/** on/off (also true/false, 1/0). */
export const onOff = (text: SettingText): unknown => {
  const value = String(text).toLowerCase();
  if (['on', 'true', '1'].includes(value)) return true;
  if (['off', 'false', '0'].includes(value)) return false;
  throw new Error(`expected on or off, got "${String(text).slice(0, 20)}"`);
};
/** A flag without a value (`--quiet`), or `1`/`true` in a variable. */
export const presence = (text: SettingText): unknown => text === true || text === '1' || text === 'true';
/** A structure too rich for a flag's syntax: JSON, as a config file holds it. */
export const json = (text: SettingText): unknown => {
  try {
    return JSON.parse(String(text));
  } catch (error) {
    throw new Error(`expected JSON, as a config file holds it (${(error as Error).message})`);
  }
};
/** A path, or `off` for none. */
export const pathOrOff = (text: SettingText): unknown => (text === 'off' || text === 'false' ? false : text);

// ---------------------------------------------------------------------------
// The shape of an entry

/**
 * A value as an option holds it: no `undefined` in optional fields (the
 * options are exact), which a parsed config may carry (`jwtSecret: process.env.X`).
 */
export type Exact<T> = T extends (...args: never) => unknown
  ? T
  : T extends readonly unknown[]
    ? { [I in keyof T]: Exact<T[I]> }
    : T extends object
      ? { [K in keyof T]: Exact<Exclude<T[K], undefined>> }
      : T;

/** Drops `undefined` fields at any depth (see {@link Exact}). */
export function exact<T>(value: T): Exact<T> {
  if (Array.isArray(value)) return value.map((item: unknown) => exact(item)) as Exact<T>;
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined).map(([key, field]) => [key, exact(field)])) as Exact<T>;
  }
  return value as Exact<T>;
}

/** A second flag that completes the setting (`--webhook-topics` for `--webhook`). */
export interface CompanionFlag {
  readonly flag: string;
  readonly env: string;
  readonly arg: string;
  readonly help: string;
  /** The key path its value lands on, so a problem with it names this flag. */
  readonly path: string;
  /** The setting's own text when only the companion is given (`--socketio-redis URL` alone is `--socketio on` with it); without it, the companion alone does nothing. */
  readonly implies?: string;
}

interface SettingFields {
  /** The flag, without `--`. */
  readonly flag: string;
  /** The environment variable (`EVENTWIRE_…`). */
  readonly env: string;
  /** What --help shows after the flag (`<n>`); absent for a flag without a value. */
  readonly arg?: string;
  /** The --help line. */
  readonly help: string;
  /** How --help states a default the table cannot hold as a value. */
  readonly defaultText?: string;
  /** A flag given more than once collects its values (the variable joins them with ","). */
  readonly repeatable?: boolean;
  /** Flag or variable text → the value the schema validates. Throws with a readable message. */
  readonly read: (text: SettingText, companion: string | undefined) => unknown;
  readonly companion?: CompanionFlag;
}

/** A setting that is an `EventBrokerServer` option. */
export interface OptionSetting<TOption = unknown, TInput = unknown, TSchema extends z.ZodType = z.ZodType, TResolved = unknown, TDefault = unknown> extends SettingFields {
  readonly kind: 'option';
  readonly schema: TSchema;
  /** The default as a value (it is in `brokerDefaults`). */
  readonly default?: TDefault;
  /** A default worked out when the broker is made (from the machine, or other options). */
  readonly defaultOf?: (options: { readonly authenticate?: unknown }) => Exclude<TOption, undefined>;
  /** A validated config value → the option. Without it the value is the option as it is (without `undefined` fields). */
  readonly toOption?: (value: z.output<TSchema>) => TOption;
  /** The option with its default applied → what the broker works with (`false` → off). */
  readonly resolve?: (value: Exclude<TOption, undefined> | undefined) => TResolved;
  /** Phantom: the option's type, what a config file may write for it, what it resolves to. */
  readonly types?: { readonly option: TOption; readonly input: TInput; readonly resolved: TResolved };
}

/** A setting only a config turns into something (an observer, an authenticator). */
export interface ConfigOnlySetting<TInput = unknown, TSchema extends z.ZodType = z.ZodType> extends SettingFields {
  readonly kind: 'config';
  readonly schema: TSchema;
  readonly default?: z.output<TSchema>;
  readonly types?: { readonly input: TInput };
}

/** Any entry, as code that walks the table sees it. */
export type Setting = OptionSetting | ConfigOnlySetting;

/**
 * True when a validated value can be the option as it is. A schema that
 * outputs `undefined` (a `false` meaning off, preprocessed away) leaves the
 * option unset — createBrokerFromConfig never hands `undefined` on — so only
 * its other outputs must fit.
 */
type Fits<TOut, TOption> = [Exact<Exclude<TOut, undefined>>] extends [TOption] ? true : false;

/**
 * Declares an option of type `TOption` (what `BrokerOptions` holds); a config
 * file may write `TInput` for it. The schema's output must fit the option, or
 * `toOption` must say how it becomes one — this is what ties the config
 * schema to `BrokerOptions` at compile time.
 */
export function option<TOption, TInput = TOption>() {
  return <
    TSchema extends z.ZodType,
    const TDefault extends Exclude<TOption, undefined> | undefined = undefined,
    TDefaultOf extends ((options: { readonly authenticate?: unknown }) => Exclude<TOption, undefined>) | undefined = undefined,
    TResolved = never,
  >(
    spec: SettingFields & {
      readonly schema: TSchema;
      readonly default?: TDefault;
      readonly defaultOf?: TDefaultOf;
      readonly resolve?: (value: Exclude<TOption, undefined> | undefined) => TResolved;
    } & (Fits<z.output<TSchema>, TOption> extends true
        ? { readonly toOption?: (value: z.output<TSchema>) => TOption }
        : { readonly toOption: (value: z.output<TSchema>) => TOption }),
  ) =>
    ({ ...spec, kind: 'option' }) as OptionSetting<
      TOption,
      TInput,
      TSchema,
      [TResolved] extends [never] ? ([TDefault] extends [undefined] ? ([TDefaultOf] extends [undefined] ? TOption | undefined : Exclude<TOption, undefined>) : Exclude<TOption, undefined>) : TResolved,
      TDefault
    >;
}

/** Declares a setting only a config uses; a config file may write `TInput` for it. */
export function configOnly<TInput>() {
  return <TSchema extends z.ZodType>(spec: SettingFields & { readonly schema: TSchema; readonly default?: z.output<TSchema> }): ConfigOnlySetting<TInput, TSchema> => ({
    ...spec,
    kind: 'config',
  });
}
