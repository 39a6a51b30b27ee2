// Channels and their messages: one channel per event map key (a family's `*`
// and `{name}` segments become address parameters), and one per channel
// rule template (`private-user.{userId}`) — a map key and a template for the
// same family share one channel. Each map key has one message: its input
// JSON Schema as payload, the envelope as headers.
import { EventwireError, parsePattern, type EventMap } from '@eventwire/event-channel';
import { AsyncApiIds } from './ids.js';
import { hoistDefinitions, jsonSchemaDraft, jsonSchemaOf, type JsonSchema } from './json-schema.js';

/** A channel object (AsyncAPI 3.0 `channels`). */
export interface AsyncApiChannel {
  readonly address: string;
  readonly title?: string;
  readonly description?: string;
  readonly parameters?: { readonly [name: string]: { readonly description: string } };
  readonly messages?: { readonly [id: string]: { readonly $ref: string } };
}

/** A message object (AsyncAPI 3.0 `components.messages`). */
export interface AsyncApiMessage {
  readonly name: string;
  readonly title: string;
  readonly contentType: 'application/json';
  readonly payload: { readonly schemaFormat: string; readonly schema: JsonSchema };
  readonly headers: { readonly $ref: string };
}

/** A channel as the operations see it. */
export interface PlannedChannel {
  readonly id: string;
  /** The address as a plain pattern (every parameter a `*`): what permissions are matched against. */
  readonly pattern: string;
  /** Its messages' keys in `messages`. */
  readonly messageIds: readonly string[];
  /** Guarded by a channel rule. */
  readonly guarded: boolean;
}

interface Draft {
  readonly pattern: string;
  /** Per segment: the literal, or undefined for a parameter. */
  readonly literals: readonly (string | undefined)[];
  /** Per segment: the parameter's name when one is known yet. */
  readonly names: (string | undefined)[];
  readonly keys: string[];
  guarded: boolean;
}

/** Where the headers schema lives in the document. */
export const envelopeHeadersRef = '#/components/schemas/envelopeHeaders';

/**
 * The channels and messages of `events` and `templates`. `schemas` overrides
 * the JSON Schema of a map key (for validators without Standard JSON Schema).
 * Throws `unsupported_schema` for a key whose schema cannot be converted.
 */
export function channelsOf(
  events: EventMap,
  templates: readonly string[],
  schemas: { readonly [key: string]: JsonSchema | undefined },
): {
  channels: Record<string, AsyncApiChannel>;
  messages: Record<string, AsyncApiMessage>;
  /** Definitions the payloads refer to (zod's `$defs`), moved to `components.schemas`. */
  definitions: Record<string, { readonly schemaFormat: string; readonly schema: JsonSchema }>;
  planned: PlannedChannel[];
} {
  const drafts = new Map<string, Draft>();
  const draftOf = (text: string): Draft => {
    const parsed = parsePattern(text);
    let draft = drafts.get(parsed.pattern);
    if (!draft) {
      const segments = parsed.pattern.split('.');
      draft = {
        pattern: parsed.pattern,
        literals: segments.map((segment) => (segment === '*' ? undefined : segment)),
        names: segments.map(() => undefined),
        keys: [],
        guarded: false,
      };
      drafts.set(parsed.pattern, draft);
    }
    // The first name a segment is given wins (map keys come before rules); a name already used elsewhere in the address is not reused.
    parsed.captures?.forEach((name, index) => {
      if (name !== undefined && draft.names[index] === undefined && !draft.names.includes(name)) draft.names[index] = name;
    });
    return draft;
  };
  for (const key of Object.keys(events)) draftOf(key).keys.push(key);
  for (const template of templates) draftOf(template).guarded = true;

  const channelIds = new AsyncApiIds();
  const messageIds = new AsyncApiIds();
  const channels: Record<string, AsyncApiChannel> = {};
  const messages: Record<string, AsyncApiMessage> = {};
  const definitions: Record<string, { readonly schemaFormat: string; readonly schema: JsonSchema }> = {};
  const planned: PlannedChannel[] = [];
  for (const draft of drafts.values()) {
    const names = draft.literals.map((literal, index) => (literal === undefined ? (draft.names[index] ?? freeName(draft.names, index)) : undefined));
    const address = draft.literals.map((literal, index) => literal ?? `{${names[index]}}`).join('.');
    const parameters = Object.fromEntries(
      names.flatMap((name, index) => (name === undefined ? [] : [[name, { description: `One topic segment (segment ${index + 1} of the topic).` }]])),
    );
    const id = channelIds.next(address);
    const ids: string[] = [];
    for (const key of draft.keys) {
      const messageId = messageIds.next(key);
      const payload = hoistDefinitions(schemas[key] ?? jsonSchemaOf(key, events[key]!), `#/components/messages/${messageId}/payload/schema`, messageId);
      Object.assign(definitions, payload.definitions);
      messages[messageId] = {
        name: key,
        title: key,
        contentType: 'application/json',
        payload: { schemaFormat: jsonSchemaDraft.schemaFormat, schema: payload.schema },
        headers: { $ref: envelopeHeadersRef },
      };
      ids.push(messageId);
    }
    channels[id] = {
      address,
      ...(draft.keys.length === 0 && { title: address }),
      description: [
        draft.keys.length > 0 ? `Events of ${draft.keys.map((key) => `"${key}"`).join(', ')} in the event map.` : 'Not in the event map: its data is not checked.',
        draft.guarded ? 'Guarded by a channel rule (private or presence channel): subscribers must be let in by it.' : '',
      ].filter(Boolean).join(' '),
      ...(names.some((name) => name !== undefined) && { parameters }),
      ...(ids.length > 0 && { messages: Object.fromEntries(ids.map((messageId) => [messageId, { $ref: `#/components/messages/${messageId}` }])) }),
    };
    planned.push({ id, pattern: draft.pattern, messageIds: ids, guarded: draft.guarded });
  }
  return { channels, messages, definitions, planned };
}

/** `p<index>`, unless the address already names a parameter so. */
function freeName(names: readonly (string | undefined)[], index: number): string {
  let name = `p${index}`;
  while (names.includes(name)) name = `${name}_`;
  return name;
}

/**
 * The `{name}`s of `address` that `parameters` does not declare. The AsyncAPI
 * parser (3.6.3) flags one only when the channel has a `parameters` object;
 * a channel with none at all passes whatever its address holds (checked), so
 * the generator checks this itself.
 */
export function undeclaredParameters(channel: AsyncApiChannel): string[] {
  const used = [...channel.address.matchAll(/\{([^}]*)\}/g)].map((match) => match[1]!);
  return used.filter((name) => !Object.hasOwn(channel.parameters ?? {}, name));
}

/** Throws `internal` when a generated channel uses a parameter it does not declare (a generator bug, never the user's). */
export function assertParametersDeclared(channels: Record<string, AsyncApiChannel>): void {
  for (const [id, channel] of Object.entries(channels)) {
    const missing = undeclaredParameters(channel);
    if (missing.length > 0) throw new EventwireError('internal', `AsyncAPI channel ${id} ("${channel.address}") uses undeclared parameters: ${missing.join(', ')}`);
  }
}
