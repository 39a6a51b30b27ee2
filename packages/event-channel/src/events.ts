import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { EventEnvelope } from './envelope.js';
import type { DuplicateCapture, NormalisePattern, TopicMatchesPattern } from './topic.js';
import { EventwireError, TopicError, type ValidationIssue } from './errors.js';
import { parsePattern } from './topic.js';
import { TopicTrie } from './topic-trie.js';

/**
 * A map from topic to the schema of its data. Any Standard Schema validator
 * works (zod, valibot, arktype…); zod is the one we document.
 *
 * A key may be a concrete topic (`'order.created'`) or a *topic family* with
 * `*` segments (`'log.error.*'`): every topic the family matches shares its
 * schema, so open-ended topics (one per service, per room…) are still typed
 * and validated. An exact key wins over a family; among families the first
 * declared wins. A family segment may be named (`'order.{orderId}.shipped'`):
 * at run time it is a `*`, and the name is what an AsyncAPI document calls the
 * channel parameter.
 */
export type EventMap = { readonly [topic: string]: StandardSchemaV1 };

/** The map of a channel created without `events`: any topic, `unknown` data. */
export type UntypedEvents = { readonly [topic: string]: StandardSchemaV1<unknown, unknown> };

/**
 * `'log.error.*'` → `` `log.error.${string}` ``: the concrete topics a key stands
 * for, as autocompletion and narrowing see them (a named segment `{orderId}`
 * reads as `*`). A template cannot say "one segment", so `EventKey` (and
 * through it `emit`'s `TopicCheck`) checks a literal topic segment by segment:
 * `log.error.a.b` is not a `log.error.*`.
 */
export type FamilyTopic<TKey extends string> = TKey extends `${infer Head}.${infer Rest}`
  ? `${FamilySegment<Head>}.${FamilyTopic<Rest>}`
  : FamilySegment<TKey>;

type FamilySegment<TSegment extends string> = TSegment extends '*' | `{${string}}` ? string : TSegment;

/** The topics an event map declares, families as template types (`string` when untyped). */
export type EventTopic<TEvents extends EventMap> = {
  [TKey in Extract<keyof TEvents, string>]: FamilyTopic<TKey>;
}[Extract<keyof TEvents, string>];

/**
 * The key(s) of the map that declare `TTopic`: itself, or the families it
 * belongs to, with each `*` filled by exactly one non-empty segment, as at run time.
 */
export type EventKey<TEvents extends EventMap, TTopic extends string> = {
  [TKey in Extract<keyof TEvents, string>]: string extends TKey
    ? TKey // an untyped map (index signature): every topic
    : TTopic extends FamilyTopic<TKey>
      ? TopicMatchesPattern<TTopic, NormalisePattern<TKey>> extends true
        ? TKey
        : never
      : never;
}[Extract<keyof TEvents, string>];

/**
 * Makes a topic that no key of the map declares a compile error naming the
 * problem: `emit('log.error.a.b', …)` when only `'log.error.*'` exists (a `*`
 * is one segment).
 */
export type TopicCheck<TEvents extends EventMap, TTopic extends string> = [EventKey<TEvents, TTopic>] extends [never]
  ? { readonly 'topic is not declared in the event map (a * in a key is exactly one segment)': TTopic }
  : unknown;

/** What `emit` accepts for each key of the map (the schema's input type). */
export type inferEventInputs<TEvents extends EventMap> = {
  [TKey in Extract<keyof TEvents, string>]: StandardSchemaV1.InferInput<TEvents[TKey]>;
};

/** What handlers receive for each key of the map (the schema's output type). */
export type inferEventOutputs<TEvents extends EventMap> = {
  [TKey in Extract<keyof TEvents, string>]: StandardSchemaV1.InferOutput<TEvents[TKey]>;
};

/** The input data of `TTopic` (a union when `TTopic` is a union). */
export type EventInput<TEvents extends EventMap, TTopic extends EventTopic<TEvents>> = TTopic extends unknown
  ? StandardSchemaV1.InferInput<TEvents[EventKey<TEvents, TTopic>]>
  : never;

/** The output data of `TTopic` (a union when `TTopic` is a union). */
export type EventOutput<TEvents extends EventMap, TTopic extends EventTopic<TEvents>> = TTopic extends unknown
  ? StandardSchemaV1.InferOutput<TEvents[EventKey<TEvents, TTopic>]>
  : never;

/**
 * The envelope a handler receives: a union discriminated by `topic`, so
 * `if (event.topic === 'order.shipped')` narrows `event.data`.
 */
export type TypedEvent<TEvents extends EventMap, TTopic extends EventTopic<TEvents>> = TTopic extends unknown
  ? EventEnvelope<TTopic, StandardSchemaV1.InferOutput<TEvents[EventKey<TEvents, TTopic>]>>
  : never;

/**
 * Makes a key that names one capture twice (`'a.{x}.{x}'`) a compile error
 * naming it, as `defineEvents` refuses it at run time (`duplicate_capture`).
 */
export type EventMapCheck<TEvents extends EventMap> = {
  [TKey in Extract<keyof TEvents, string>]: [DuplicateCapture<TKey>] extends [never]
    ? TEvents[TKey]
    : { readonly 'capture name used twice in this key': DuplicateCapture<TKey> };
};

/**
 * Declares a service's events once. Returns the map unchanged, typed precisely,
 * after checking that every key is a concrete topic or a family (`*` or named
 * `{name}` segments) and every value a schema. The keys stay as written, so a
 * generator (AsyncAPI) sees the names; lookups read `{name}` as `*`.
 *
 * @example
 * const shop = defineEvents({
 *   'order.created': z.object({ id: z.string(), total: z.number() }),
 *   'order.{orderId}.shipped': z.object({ carrier: z.string() }),
 * });
 */
export function defineEvents<const TEvents extends EventMap>(events: TEvents & EventMapCheck<TEvents>): TEvents {
  for (const [topic, schema] of Object.entries(events)) {
    parsePattern(topic);
    if (topic.split('.').includes('#')) {
      throw new TopicError(
        'invalid_topic',
        topic,
        'wildcard_in_topic',
        `Event map key "${topic}" uses "#"; a topic family may only use "*" segments`,
      );
    }
    if (!isStandardSchema(schema)) {
      throw new EventwireError(
        'invalid_payload',
        `The schema for "${topic}" is not a Standard Schema (zod 3.24+, valibot, arktype…)`,
      );
    }
  }
  return events;
}

/**
 * Finds the schema for a concrete topic: the exact key, else the first
 * declared family (`*` key) that matches. Built once per map; exact lookups
 * cost one hash probe, family lookups one trie walk.
 */
export function createSchemaLookup(events: EventMap): (topic: string) => StandardSchemaV1 | undefined {
  const order = new Map<string, number>();
  const families = new TopicTrie<string>();
  Object.keys(events).forEach((key, index) => {
    // A named segment ({orderId}) is a family segment: the trie sees it as *.
    const { pattern } = parsePattern(key);
    if (pattern.split('.').includes('*')) {
      families.add(pattern, key);
      order.set(key, index);
    }
  });
  // Family answers are cached per topic: real topics repeat (log.info.payments
  // on every call). Bounded, so a stream of unique topics cannot grow it.
  const cache = new Map<string, StandardSchemaV1 | undefined>();
  return (topic) => {
    // hasOwn, so topics like "constructor" never reach Object.prototype.
    if (Object.hasOwn(events, topic)) return events[topic];
    if (families.size === 0) return undefined;
    if (cache.has(topic)) return cache.get(topic);
    let first: string | undefined;
    families.forEachMatch(topic, (key) => {
      if (first === undefined || order.get(key)! < order.get(first)!) first = key;
    });
    const schema = first === undefined ? undefined : events[first];
    if (cache.size >= FAMILY_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(topic, schema);
    return schema;
  };
}

const FAMILY_CACHE_SIZE = 1024;

/** True when `value` implements Standard Schema v1. */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  const standard = (value as { '~standard'?: { version?: unknown; validate?: unknown } })['~standard'];
  return standard?.version === 1 && typeof standard.validate === 'function';
}

/** The outcome of validating one payload. */
export type SchemaOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly issues: readonly ValidationIssue[] };

/**
 * Runs a schema. Synchronous schemas (zod's usual case) answer synchronously so
 * delivery keeps its order without an extra tick; async ones return a promise.
 * A schema that throws is reported as a single issue rather than escaping.
 */
export function runSchema(
  schema: StandardSchemaV1,
  value: unknown,
): SchemaOutcome | Promise<SchemaOutcome> {
  let result: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>;
  try {
    result = schema['~standard'].validate(value);
  } catch (error) {
    return thrownOutcome(error);
  }
  if (result instanceof Promise) return result.then(toOutcome, thrownOutcome);
  return toOutcome(result);
}

function toOutcome(result: StandardSchemaV1.Result<unknown>): SchemaOutcome {
  return result.issues ? { ok: false, issues: result.issues } : { ok: true, value: result.value };
}

function thrownOutcome(error: unknown): SchemaOutcome {
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, issues: [{ message: `schema threw: ${message}` }] };
}
