import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { EventEnvelope } from './envelope.js';
import { EventwireError, type ValidationIssue } from './errors.js';
import { assertTopic } from './topic.js';

/**
 * A map from concrete topic to the schema of its data. Any Standard Schema
 * validator works (zod, valibot, arktype…); zod is the one we document.
 */
export type EventMap = { readonly [topic: string]: StandardSchemaV1 };

/** The map of a channel created without `events`: any topic, `unknown` data. */
export type UntypedEvents = { readonly [topic: string]: StandardSchemaV1<unknown, unknown> };

/** The topics declared by an event map (`string` when untyped). */
export type EventTopic<TEvents extends EventMap> = Extract<keyof TEvents, string>;

/** What `emit` accepts for each topic (the schema's input type). */
export type inferEventInputs<TEvents extends EventMap> = {
  [TTopic in EventTopic<TEvents>]: StandardSchemaV1.InferInput<TEvents[TTopic]>;
};

/** What handlers receive for each topic (the schema's output type). */
export type inferEventOutputs<TEvents extends EventMap> = {
  [TTopic in EventTopic<TEvents>]: StandardSchemaV1.InferOutput<TEvents[TTopic]>;
};

/** The input data of `TTopic` (a union when `TTopic` is a union). */
export type EventInput<TEvents extends EventMap, TTopic extends EventTopic<TEvents>> =
  TTopic extends unknown ? StandardSchemaV1.InferInput<TEvents[TTopic]> : never;

/** The output data of `TTopic` (a union when `TTopic` is a union). */
export type EventOutput<TEvents extends EventMap, TTopic extends EventTopic<TEvents>> =
  TTopic extends unknown ? StandardSchemaV1.InferOutput<TEvents[TTopic]> : never;

/**
 * The envelope a handler receives: a union discriminated by `topic`, so
 * `if (event.topic === 'order.shipped')` narrows `event.data`.
 */
export type TypedEvent<TEvents extends EventMap, TTopic extends EventTopic<TEvents>> =
  TTopic extends unknown ? EventEnvelope<TTopic, StandardSchemaV1.InferOutput<TEvents[TTopic]>> : never;

/**
 * Declares a service's events once. Returns the map unchanged, typed precisely,
 * after checking that every key is a concrete topic and every value a schema.
 *
 * @example
 * const shop = defineEvents({
 *   'order.created': z.object({ id: z.string(), total: z.number() }),
 *   'order.shipped': z.object({ id: z.string(), carrier: z.string() }),
 * });
 */
export function defineEvents<const TEvents extends EventMap>(events: TEvents): TEvents {
  for (const [topic, schema] of Object.entries(events)) {
    assertTopic(topic);
    if (!isStandardSchema(schema)) {
      throw new EventwireError(
        'invalid_payload',
        `The schema for "${topic}" is not a Standard Schema (zod 3.24+, valibot, arktype…)`,
      );
    }
  }
  return events;
}

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
