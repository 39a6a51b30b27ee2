// JSON Schema from an event map's validator, through Standard JSON Schema
// (`~standard.jsonSchema`, which zod 4.2+, ArkType 2.1.28+ and Valibot's
// `toStandardJsonSchema()` implement): this package imports no validator and
// no converter. The schema is the *input* one, as the wire carries input
// (docs/PROTOCOL.md §2): a transform is described by what it accepts.
import { EventwireError, type EventMap } from '@eventwire/event-channel';

/** One validator of an event map (a Standard Schema). */
type EventSchema = EventMap[string];

/** A JSON Schema object (draft 2020-12), as plain JSON data. */
export type JsonSchema = { readonly [keyword: string]: unknown };

/** The draft every generated payload is written in, and how the AsyncAPI message says so. */
export const jsonSchemaDraft = {
  target: 'draft-2020-12',
  schemaFormat: 'application/schema+json;version=draft-2020-12',
} as const;

interface JsonSchemaProps {
  readonly input: (options: { readonly target: string }) => Record<string, unknown>;
}

/**
 * The input JSON Schema of `schema`, the validator of event map key `key`,
 * without `$schema` (the message's `schemaFormat` says the draft). Throws
 * `unsupported_schema` naming the key and the vendor when the validator does
 * not implement Standard JSON Schema or cannot convert this schema
 * (`z.custom()`, `z.date()`…); `cause` keeps the converter's error.
 */
export function jsonSchemaOf(key: string, schema: EventSchema): JsonSchema {
  const standard = schema['~standard'] as EventSchema['~standard'] & { readonly jsonSchema?: JsonSchemaProps };
  const vendor = standard.vendor;
  if (typeof standard.jsonSchema?.input !== 'function') {
    throw new EventwireError(
      'unsupported_schema',
      `Event map key "${key}": its schema (vendor: ${vendor}) does not implement Standard JSON Schema (~standard.jsonSchema); pass its JSON Schema in \`schemas\``,
    );
  }
  let converted: Record<string, unknown>;
  try {
    converted = standard.jsonSchema.input({ target: jsonSchemaDraft.target });
  } catch (error) {
    throw new EventwireError(
      'unsupported_schema',
      `Event map key "${key}": its schema (vendor: ${vendor}) cannot be converted to JSON Schema: ${error instanceof Error ? error.message : String(error)}; pass its JSON Schema in \`schemas\``,
      { cause: error },
    );
  }
  const { $schema: _draft, ...rest } = converted;
  return rest;
}

/**
 * Moves a converted schema's `$defs` (zod writes recursive and reused parts
 * there) into `components.schemas` and rewrites its `$ref`s: inside a JSON
 * Schema `#` is the schema's own root, but in an AsyncAPI document every
 * `$ref` is read from the document's root, where `#/$defs/…` does not exist.
 * `home` is the pointer to where the schema itself is placed; each
 * definition lands at `#/components/schemas/<prefix>_<name>` as a
 * multi-format schema (so its draft is said too).
 */
export function hoistDefinitions(
  schema: JsonSchema,
  home: string,
  prefix: string,
): { readonly schema: JsonSchema; readonly definitions: Readonly<Record<string, { readonly schemaFormat: string; readonly schema: JsonSchema }>> } {
  const { $defs, ...root } = schema;
  const names = $defs !== null && typeof $defs === 'object' ? Object.keys($defs) : [];
  const idOf = (name: string): string => `${prefix}_${name}`.replace(/[^A-Za-z0-9._-]/g, '_');
  const rewrite = (reference: string): string => {
    if (reference === '#') return home;
    const definition = /^#\/\$defs\/([^/]+)(.*)$/.exec(reference);
    if (definition && names.includes(definition[1]!)) return `#/components/schemas/${idOf(definition[1]!)}/schema${definition[2]}`;
    return reference.startsWith('#/') ? `${home}${reference.slice(1)}` : reference;
  };
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, key === '$ref' && typeof inner === 'string' ? rewrite(inner) : walk(inner)]));
  };
  const definitions = Object.fromEntries(
    names.map((name) => [idOf(name), { schemaFormat: jsonSchemaDraft.schemaFormat, schema: walk(($defs as Record<string, unknown>)[name]) as JsonSchema }]),
  );
  return { schema: walk(root) as JsonSchema, definitions };
}
