// How a Socket.IO namespace and room map onto an eventwire topic and back.
// One event space for every surface (PROTOCOL.md "Socket.IO"): a room of the
// root namespace `/` is the topic of the same name, so `broadcastOn('chat.7')`,
// an EventChannel on `chat.7` and a Pusher channel `chat.7` of the default app
// all reach the room `chat.7`. The shape follows the Pusher surface's:
//
// - a kind prefix `private-`/`presence-` stays first (the channel rules and the
//   router's guard see the same kind on every surface);
// - a namespace `/N` other than `/` is inserted as `N:` after the kind prefix
//   (`/admin` room `private-x.1` → `private-admin:x.1`), as a Pusher app's
//   namespace is;
// - a room is split on `.` into topic segments (so `chat.*` patterns and rules
//   work); inside a segment `%`, `:`, `*`, `#`, `>`, whitespace and control
//   characters are percent-escaped as their UTF-8 bytes (`%XX`, uppercase), as is
//   a `$` leading the room (after its kind prefix: `$…` topics are reserved);
//   an empty segment (`a..b`, `.a`, ``) is refused `invalid_topic`, as on Pusher.
//
// Reserved topics, per namespace (with the same `N:` insertion): `$nsp` (every
// socket of the namespace is on it: namespace-wide emits), `$sid.<socket id>`
// (the per-socket room), `$emit.<event name>` (client emits: seen by hooks,
// delivered nowhere unless the config relays them). The socket id and the event
// name are one segment each (a `.` in them is escaped too).
//
// The mapping is injective and reversible: `readTopic(roomTopic(n, r))` gives
// `{ kind: 'room', nsp: n, room: r }` back, and `readTopic` answers undefined for
// any topic no call here could have produced (a non-canonical escape, a topic of
// another shape), so a topic is never taken for a room it does not name.
//
// Every produced topic is checked with the broker's topic rules
// (`findTopicProblem` and the configured `TopicLimits`): too long, too many
// segments or an empty segment → `EventwireError('invalid_topic')`.
//
// Note on `*` and `#`: the topic rules refuse them anywhere in a topic (not only
// as a whole segment), so they are escaped wherever they appear in a name.
import { EventwireError, findTopicProblem, topicLimitDefaults, type TopicLimits } from '@eventwire/event-channel';

/** The kind prefixes that drive the channel rules; kept in front of the namespace. */
const KIND_PREFIXES = ['private-', 'presence-'] as const;

/** The root namespace: its rooms are topics without any namespace insertion. */
export const ROOT_NAMESPACE = '/';

/** What a Socket.IO topic names: a room, a whole namespace, one socket, or client emits of one event. */
export type SocketIoTopic =
  | { readonly kind: 'room'; readonly nsp: string; readonly room: string }
  | { readonly kind: 'namespace'; readonly nsp: string }
  | { readonly kind: 'socket'; readonly nsp: string; readonly sid: string }
  | { readonly kind: 'emit'; readonly nsp: string; readonly event: string };

/** The topic of room `room` in namespace `nsp`. Throws `invalid_topic` (bad namespace, empty segment, over the limits). */
export function roomTopic(nsp: string, room: string, limits: TopicLimits = topicLimitDefaults): string {
  if (typeof room !== 'string') throw new EventwireError('invalid_topic', 'A room must be a string');
  return remembered(limits, 'r', nsp, room, computeRoomTopic);
}

function computeRoomTopic(nsp: string, room: string, limits: TopicLimits): string {
  const kind = kindOf(room);
  const body = room.slice(kind.length);
  const segments = body.split('.');
  const escaped = segments.map((segment, index) => {
    if (segment === '') throw new EventwireError('invalid_topic', `Room "${room.slice(0, 100)}" has an empty segment (leading, trailing or doubled "."), which no topic can hold`);
    return escapeSegment(segment, index === 0, false);
  });
  return checked(kind + namespacePart(nsp) + escaped.join('.'), room, limits);
}

/**
 * The topics of recently seen rooms and event names, per topic limits: a
 * socket's every emit and every `to(room).emit` would otherwise split,
 * escape and check the same name again (a few percent of the server's CPU
 * per message in the comparison's fan-in). Only successful answers are kept;
 * the table is emptied when it reaches {@link REMEMBERED_TOPICS} entries, so
 * a stream of distinct names costs a miss each, never memory.
 */
const REMEMBERED_TOPICS = 1024;
const rememberedTopics = new WeakMap<TopicLimits, Map<string, string>>();

function remembered(limits: TopicLimits, kind: 'r' | 'e', nsp: string, name: string, compute: (nsp: string, name: string, limits: TopicLimits) => string): string {
  // Anything but strings is refused by `compute`, never taken for a cached name it stringifies to.
  if (typeof nsp !== 'string' || typeof name !== 'string') return compute(nsp, name, limits);
  let table = rememberedTopics.get(limits);
  if (table === undefined) rememberedTopics.set(limits, (table = new Map()));
  // The namespace's length first: no two (namespace, name) pairs share a key.
  const key = `${kind}${nsp.length}:${nsp}${name}`;
  let topic = table.get(key);
  if (topic === undefined) {
    topic = compute(nsp, name, limits);
    if (table.size >= REMEMBERED_TOPICS) table.clear();
    table.set(key, topic);
  }
  return topic;
}

/** The topic every socket of namespace `nsp` is on (namespace-wide emits). */
export function namespaceTopic(nsp: string, limits: TopicLimits = topicLimitDefaults): string {
  return checked(`${namespacePart(nsp)}$nsp`, nsp, limits);
}

/** The per-socket room of socket `sid` in namespace `nsp`. */
export function socketTopic(nsp: string, sid: string, limits: TopicLimits = topicLimitDefaults): string {
  return checked(`${namespacePart(nsp)}$sid.${oneSegment(sid, 'socket id')}`, sid, limits);
}

/** The topic client emits of `event` in namespace `nsp` are published on. */
export function emitTopic(nsp: string, event: string, limits: TopicLimits = topicLimitDefaults): string {
  return remembered(limits, 'e', nsp, event, computeEmitTopic);
}

function computeEmitTopic(nsp: string, event: string, limits: TopicLimits): string {
  return checked(`${namespacePart(nsp)}$emit.${oneSegment(event, 'event name')}`, event, limits);
}

/**
 * The namespace and room a topic is the image of; undefined for a reserved
 * topic or any topic {@link roomTopic} could not have produced.
 */
export function roomOf(topic: string): { readonly nsp: string; readonly room: string } | undefined {
  const read = readTopic(topic);
  return read?.kind === 'room' ? { nsp: read.nsp, room: read.room } : undefined;
}

/**
 * What `topic` names for the Socket.IO surface, or undefined when it is not
 * the canonical image of any room, namespace, socket or emit (checked by
 * encoding the answer again, so the mapping stays one-to-one).
 */
export function readTopic(topic: string): SocketIoTopic | undefined {
  if (typeof topic !== 'string' || topic === '') return undefined;
  const kind = kindOf(topic);
  let rest = topic.slice(kind.length);
  let nsp = ROOT_NAMESPACE;
  const firstDot = rest.indexOf('.');
  const colon = rest.indexOf(':');
  // `:` appears in a canonical topic only as the namespace separator, always in its first segment.
  if (colon >= 0 && (firstDot < 0 || colon < firstDot)) {
    const name = unescape(rest.slice(0, colon));
    if (name === undefined || name === '') return undefined;
    nsp = `/${name}`;
    rest = rest.slice(colon + 1);
  }
  let read: SocketIoTopic | undefined;
  if (kind === '' && rest === '$nsp') read = { kind: 'namespace', nsp };
  else if (kind === '' && rest.startsWith('$sid.')) {
    const sid = unescape(rest.slice(5));
    read = sid === undefined ? undefined : { kind: 'socket', nsp, sid };
  } else if (kind === '' && rest.startsWith('$emit.')) {
    const event = unescape(rest.slice(6));
    read = event === undefined ? undefined : { kind: 'emit', nsp, event };
  } else {
    const parts = rest.split('.').map(unescape);
    if (parts.some((part) => part === undefined)) return undefined;
    read = { kind: 'room', nsp, room: kind + parts.join('.') };
  }
  if (read === undefined) return undefined;
  // Canonical only: `%41` for `A`, a lowercase escape, an unescaped `$` would all decode, but name no room.
  try {
    return topicOfRead(read) === topic ? read : undefined;
  } catch {
    return undefined;
  }
}

function topicOfRead(read: SocketIoTopic): string {
  // Checked against the loosest limits: readTopic answers what a topic names, the limits were checked when it was made.
  const loose: TopicLimits = { maxLength: Number.MAX_SAFE_INTEGER, maxSegments: Number.MAX_SAFE_INTEGER };
  switch (read.kind) {
    case 'room':
      return roomTopic(read.nsp, read.room, loose);
    case 'namespace':
      return namespaceTopic(read.nsp, loose);
    case 'socket':
      return socketTopic(read.nsp, read.sid, loose);
    case 'emit':
      return emitTopic(read.nsp, read.event, loose);
  }
}

function kindOf(text: string): string {
  return KIND_PREFIXES.find((kind) => text.startsWith(kind)) ?? '';
}

/** `` for the root namespace, `N:` for `/N` (N one escaped segment-part, a leading kind prefix escaped so it cannot pose as a room's). */
function namespacePart(nsp: string): string {
  if (typeof nsp !== 'string' || !nsp.startsWith('/')) throw new EventwireError('invalid_topic', 'A namespace must be a string starting with "/"');
  if (nsp === ROOT_NAMESPACE) return '';
  let name = escapeSegment(nsp.slice(1), true, true);
  // `/private-x` room `y` and `/x` room `private-y` would both be `private-x:y`.
  if (kindOf(name) !== '') name = `%${name.charCodeAt(0).toString(16).toUpperCase()}${name.slice(1)}`;
  return `${name}:`;
}

function oneSegment(text: string, what: string): string {
  if (typeof text !== 'string' || text === '') throw new EventwireError('invalid_topic', `A ${what} must be a non-empty string`);
  return escapeSegment(text, false, true);
}

function checked(topic: string, name: string, limits: TopicLimits): string {
  const problem = findTopicProblem(topic, 'topic', limits);
  if (problem) throw new EventwireError('invalid_topic', `"${name.slice(0, 100)}" cannot be a topic here (${problem})`);
  return topic;
}

/**
 * Percent-escapes what a topic segment cannot hold or what would make the
 * mapping ambiguous. `leading$`: a `$` in first position is escaped (reserved
 * topics start with `$`); `dots`: `.`, `/` are escaped too (a whole name as one segment).
 */
function escapeSegment(segment: string, leading$: boolean, dots: boolean): string {
  let out = '';
  let plainFrom = 0;
  for (let i = 0; i < segment.length; i++) {
    const code = segment.charCodeAt(i);
    if (!mustEscape(code, i === 0 && leading$, dots)) continue;
    // A lone surrogate cannot be UTF-8 encoded faithfully: it would not round-trip.
    let char = segment[i]!;
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = segment.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) char += segment[++i]!;
    }
    out += segment.slice(plainFrom, i + 1 - char.length) + percent(char);
    plainFrom = i + 1;
  }
  return plainFrom === 0 ? segment : out + segment.slice(plainFrom);
}

function mustEscape(code: number, leading$: boolean, dots: boolean): boolean {
  if (code <= 0x20 || code === 0x7f || (code >= 0x80 && code <= 0x9f)) return true; // whitespace, control
  if (code === 0x25 || code === 0x3a || code === 0x2a || code === 0x23 || code === 0x3e) return true; // % : * # >
  if (leading$ && code === 0x24) return true;
  if (dots && (code === 0x2e || code === 0x2f)) return true;
  if (code >= 0xd800 && code <= 0xdfff) return true; // surrogates: escaped as UTF-8 (pairs) or refused (lone)
  return isUnicodeSpace(code);
}

function isUnicodeSpace(code: number): boolean {
  return code === 0xa0 || code === 0x1680 || (code >= 0x2000 && code <= 0x200a) || code === 0x2028 || code === 0x2029 || code === 0x202f || code === 0x205f || code === 0x3000 || code === 0xfeff;
}

function percent(char: string): string {
  const code = char.charCodeAt(0);
  if (char.length === 1 && code >= 0xd800 && code <= 0xdfff) {
    throw new EventwireError('invalid_topic', 'A room, namespace, socket id or event name holds a lone UTF-16 surrogate, which no topic can carry faithfully');
  }
  let out = '';
  for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** Undoes {@link escapeSegment}; undefined on a malformed escape or bytes that are not UTF-8. */
function unescape(text: string): string | undefined {
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  let out = '';
  for (let i = 0; i < text.length; ) {
    if (text.charCodeAt(i) === 0x25) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
      bytes.push(Number.parseInt(hex, 16));
      i += 3;
      continue;
    }
    if (bytes.length > 0) {
      const decoded = decodeUtf8(bytes);
      if (decoded === undefined) return undefined;
      out += decoded;
      bytes.length = 0;
    }
    out += text[i];
    i++;
  }
  if (bytes.length > 0) {
    const decoded = decodeUtf8(bytes);
    if (decoded === undefined) return undefined;
    out += decoded;
  }
  return out;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: number[]): string | undefined {
  try {
    return strictUtf8.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}
