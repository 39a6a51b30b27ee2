import type { EventEnvelope } from '../envelope.js';
import { gapReasons, type GapReason } from '../gap.js';
import { parseEnvelope } from '../envelope.js';
import type { TopicLimits } from '../topic.js';
import {
  EventwireError,
  isErrorCode,
  topicProblems,
  type ErrorCode,
  type TopicProblem,
  type WireError,
  type WireIssue,
} from '../errors.js';

/**
 * The native eventwire protocol, version 1: JSON text frames over a WebSocket.
 * One copy, used by the ws:// transport and (through the `/protocol` subpath)
 * by the broker. Specified in docs/PROTOCOL.md §6.
 */
export const PROTOCOL_VERSION = 1;

/** A correlation id chosen by the client; echoed in the `ack` or `error` that answers it. */
export type FrameId = number | string;

/** Frames a client sends. */
export type ClientFrame =
  | {
      readonly type: 'hello';
      readonly protocol: number;
      readonly client?: string;
      /** Credentials, for clients that cannot put them on the connect URL or in a header. */
      readonly token?: string;
    }
  | {
      /**
       * Fresh credentials for a live connection, before the old ones expire:
       * answered with an `ack` carrying the new `expiresAt`, or an error
       * (the old credentials then stay in force until they expire). The user
       * may not change: a token for someone else is refused.
       */
      readonly type: 'auth';
      readonly id: FrameId;
      readonly token: string;
    }
  | { readonly type: 'subscribe'; readonly id: FrameId; readonly pattern: string }
  | {
      /**
       * After a reconnect: subscribe every pattern again and replay, once and
       * in order, what was stored after `since` for any of them, then go live.
       * One frame, handled in one step, so nothing falls between replay and live.
       */
      readonly type: 'resume';
      readonly id: FrameId;
      readonly patterns: readonly string[];
      readonly since: string;
    }
  | {
      readonly type: 'history';
      readonly id: FrameId;
      readonly pattern: string;
      /** After this offset, or `'earliest'`. */
      readonly since?: string;
      /** Instead of `since`: the last n events. */
      readonly last?: number;
      /** Page size, at most 1000. */
      readonly limit?: number;
    }
  | { readonly type: 'unsubscribe'; readonly id: FrameId; readonly pattern: string }
  | {
      readonly type: 'publish';
      readonly id?: FrameId;
      readonly event: EventEnvelope;
      /** Deliver to every subscriber but the publishing connection. */
      readonly toOthers?: boolean;
      /** Deliver to every subscriber but the connection with this id (a backend leaving out a browser). */
      readonly except?: string;
    }
  | { readonly type: 'ping'; readonly id?: FrameId };

/** Frames a server sends. */
export type ServerFrame =
  | {
      readonly type: 'welcome';
      readonly protocol: number;
      readonly connectionId: string;
      /** How often the client should ping; also the server's dead-peer horizon. */
      readonly heartbeatMs: number;
      /** The largest frame the server accepts, in bytes. */
      readonly maxPayloadBytes: number;
      /** Where the broker's history stood at connect time, when it keeps any. */
      readonly history?: { readonly epoch: string; readonly offset: string };
      /**
       * Who the broker authenticated, when it authenticates, and until when:
       * `expiresAt` (ms since epoch, the broker's clock) and `expiresInMs`
       * (from now: what a client schedules its refresh by, whatever its clock says).
       */
      readonly user?: { readonly id: string; readonly expiresAt?: number; readonly expiresInMs?: number };
    }
  | {
      /** Sent after a `resume`'s ack, per pattern whose missed events cannot all be replayed. */
      readonly type: 'gap';
      readonly pattern: string;
      readonly reason: GapReason;
      /** The offset the client resumed from. */
      readonly since?: string;
    }
  | {
      /** The answer to a `history` request: one page, oldest first. */
      readonly type: 'history';
      readonly id: FrameId;
      readonly events: readonly EventEnvelope[];
      /** More events follow after the last one: ask again with its offset. */
      readonly more: boolean;
      readonly epoch: string;
      readonly gap?: GapReason;
    }
  | {
      readonly type: 'ack';
      readonly id: FrameId;
      readonly eventId?: string;
      /**
       * On a subscribe's ack, where the broker's history stood when it was
       * sent (everything routed before it has been sent too): a client may
       * resume from there.
       */
      readonly offset?: string;
      /** On an `auth`'s ack: when the new credentials expire (ms since epoch), and in how long. */
      readonly expiresAt?: number;
      readonly expiresInMs?: number;
    }
  | { readonly type: 'event'; readonly event: EventEnvelope }
  | {
      /** After a presence channel's subscribe (or resume) ack: who is there now, the subscriber included. */
      readonly type: 'presence';
      readonly channel: string;
      readonly members: ReadonlyArray<{ readonly id: string; readonly info: Readonly<Record<string, unknown>> }>;
    }
  | {
      /** A member came to (`member_added`) or left (`member_removed`) a presence channel this connection is on. */
      readonly type: 'member_added' | 'member_removed';
      readonly channel: string;
      readonly member: { readonly id: string; readonly info: Readonly<Record<string, unknown>> };
    }
  | (WireError & {
      readonly type: 'error';
      readonly id?: FrameId;
      /** The event the error is about, for unacknowledged publishes. */
      readonly eventId?: string;
    })
  | {
      readonly type: 'pong';
      readonly id?: FrameId;
      /** Where the broker's history stood when it answered (as on a subscribe's ack). */
      readonly offset?: string;
    };

/**
 * A server frame as {@link parseServerFrame} returns it. The envelope of an
 * `event` frame is left unparsed: every transport hands envelopes to the
 * channel, which parses them in one place (so no transport can forget).
 */
export type ReceivedServerFrame =
  | Exclude<ServerFrame, { readonly type: 'event' } | { readonly type: 'history' }>
  | { readonly type: 'event'; readonly event: unknown }
  | (Omit<Extract<ServerFrame, { readonly type: 'history' }>, 'events'> & { readonly events: readonly unknown[] });

/** Encodes a frame for the wire. */
export function encodeFrame(frame: ClientFrame | ServerFrame): string {
  return JSON.stringify(frame);
}

/**
 * Parses what a client sent. Throws `invalid_frame` (bad JSON, unknown type,
 * wrong field types), `invalid_envelope` (a publish with a malformed event).
 * The thrown error carries the frame's `id` when one could be read, so the
 * server can answer the right request. A publish's topic is checked against
 * `limits` (the server's own, so it is checked once and by the right bounds).
 */
export function parseClientFrame(text: string, limits?: TopicLimits): ClientFrame {
  const record = parseObject(text);
  const type = record['type'];
  switch (type) {
    case 'hello': {
      const protocol = record['protocol'];
      if (typeof protocol !== 'number' || !Number.isInteger(protocol)) {
        throw frameError('"protocol" must be an integer');
      }
      const client = optionalString(record, 'client');
      const token = optionalString(record, 'token');
      return { type, protocol, ...(client !== undefined && { client }), ...(token !== undefined && { token }) };
    }
    case 'auth': {
      const id = requireId(record);
      const token = record['token'];
      if (typeof token !== 'string' || token === '') throw frameError('"token" must be a non-empty string', id);
      return { type, id, token };
    }
    case 'subscribe':
    case 'unsubscribe': {
      const id = requireId(record);
      const pattern = record['pattern'];
      if (typeof pattern !== 'string') throw frameError('"pattern" must be a string', id);
      return { type, id, pattern };
    }
    case 'resume': {
      const id = requireId(record);
      const patterns = record['patterns'];
      const since = record['since'];
      if (!Array.isArray(patterns) || !patterns.every((pattern) => typeof pattern === 'string') || typeof since !== 'string') {
        throw frameError('resume needs "patterns" (strings) and "since" (an offset)', id);
      }
      return { type, id, patterns, since };
    }
    case 'history': {
      const id = requireId(record);
      const pattern = record['pattern'];
      if (typeof pattern !== 'string') throw frameError('"pattern" must be a string', id);
      const since = optionalString(record, 'since', id);
      const last = optionalCount(record, 'last', id);
      const limit = optionalCount(record, 'limit', id);
      return {
        type,
        id,
        pattern,
        ...(since !== undefined && { since }),
        ...(last !== undefined && { last }),
        ...(limit !== undefined && { limit }),
      };
    }
    case 'publish': {
      const id = optionalId(record);
      let event: EventEnvelope;
      try {
        event = parseEnvelope(record['event'], limits);
      } catch (error) {
        throw withFrameId(error, id);
      }
      const toOthers = record['toOthers'] === true;
      const except = optionalString(record, 'except', id);
      return { type, ...(id !== undefined && { id }), event, ...(toOthers && { toOthers }), ...(except !== undefined && { except }) };
    }
    case 'ping': {
      const id = optionalId(record);
      return id === undefined ? { type } : { type, id };
    }
    default:
      throw frameError(
        typeof type === 'string' ? `unknown frame type "${type}"` : '"type" must be a string',
        optionalIdOrUndefined(record),
      );
  }
}

/** Parses what a server sent. Throws `invalid_frame`. */
export function parseServerFrame(text: string): ReceivedServerFrame {
  const record = parseObject(text);
  switch (record['type']) {
    case 'welcome': {
      const protocol = record['protocol'];
      const connectionId = record['connectionId'];
      const heartbeatMs = record['heartbeatMs'];
      const maxPayloadBytes = record['maxPayloadBytes'];
      if (
        typeof protocol !== 'number' ||
        typeof connectionId !== 'string' ||
        typeof heartbeatMs !== 'number' ||
        typeof maxPayloadBytes !== 'number'
      ) {
        throw frameError('welcome needs protocol, connectionId, heartbeatMs, maxPayloadBytes');
      }
      const history = record['history'] as { epoch?: unknown; offset?: unknown } | undefined;
      const position =
        typeof history === 'object' && history !== null && typeof history.epoch === 'string' && typeof history.offset === 'string'
          ? { epoch: history.epoch, offset: history.offset }
          : undefined;
      const user = record['user'] as { id?: unknown; expiresAt?: unknown; expiresInMs?: unknown } | undefined;
      const who =
        typeof user === 'object' && user !== null && typeof user.id === 'string'
          ? {
              id: user.id,
              ...(typeof user.expiresAt === 'number' && { expiresAt: user.expiresAt }),
              ...(typeof user.expiresInMs === 'number' && { expiresInMs: user.expiresInMs }),
            }
          : undefined;
      return { type: 'welcome', protocol, connectionId, heartbeatMs, maxPayloadBytes, ...(position && { history: position }), ...(who && { user: who }) };
    }
    case 'gap': {
      const pattern = record['pattern'];
      const reason = record['reason'];
      if (typeof pattern !== 'string' || !(gapReasons as readonly unknown[]).includes(reason)) {
        throw frameError('gap needs a pattern and a known reason');
      }
      const since = optionalString(record, 'since');
      return { type: 'gap', pattern, reason: reason as GapReason, ...(since !== undefined && { since }) };
    }
    case 'history': {
      const id = requireId(record);
      const events = record['events'];
      const epoch = record['epoch'];
      if (!Array.isArray(events) || typeof epoch !== 'string' || typeof record['more'] !== 'boolean') {
        throw frameError('history needs events, more and epoch', id);
      }
      const gap = record['gap'];
      return {
        type: 'history',
        id,
        events,
        more: record['more'],
        epoch,
        ...((gapReasons as readonly unknown[]).includes(gap) && { gap: gap as GapReason }),
      };
    }
    case 'ack': {
      const id = requireId(record);
      const eventId = optionalString(record, 'eventId');
      const offset = optionalString(record, 'offset');
      const expiresAt = typeof record['expiresAt'] === 'number' ? record['expiresAt'] : undefined;
      const expiresInMs = typeof record['expiresInMs'] === 'number' ? record['expiresInMs'] : undefined;
      return {
        type: 'ack',
        id,
        ...(eventId !== undefined && { eventId }),
        ...(offset !== undefined && { offset }),
        ...(expiresAt !== undefined && { expiresAt }),
        ...(expiresInMs !== undefined && { expiresInMs }),
      };
    }
    case 'event':
      return { type: 'event', event: record['event'] };
    case 'presence': {
      const channel = record['channel'];
      const members = record['members'];
      if (typeof channel !== 'string' || !Array.isArray(members) || !members.every(isMember)) throw frameError('presence needs a channel and members');
      return { type: 'presence', channel, members };
    }
    case 'member_added':
    case 'member_removed': {
      const channel = record['channel'];
      const member = record['member'];
      if (typeof channel !== 'string' || !isMember(member)) throw frameError(`${record['type']} needs a channel and a member`);
      return { type: record['type'], channel, member };
    }
    case 'error': {
      const id = optionalId(record);
      const eventId = optionalString(record, 'eventId');
      return {
        type: 'error',
        ...parseWireError(record),
        ...(id !== undefined && { id }),
        ...(eventId !== undefined && { eventId }),
      };
    }
    case 'pong': {
      const id = optionalId(record);
      const offset = optionalString(record, 'offset');
      return { type: 'pong', ...(id !== undefined && { id }), ...(offset !== undefined && { offset }) };
    }
    default:
      throw frameError(`unknown frame type "${String(record['type'])}"`);
  }
}

/**
 * Reads the error fields of an error frame (or an HTTP error body). A code this
 * side does not know becomes `internal` (a newer peer); malformed optional
 * details are dropped rather than failing the whole frame.
 */
export function parseWireError(record: Record<string, unknown>): WireError {
  const message = record['message'];
  if (typeof message !== 'string') throw frameError('error needs a message');
  const code: ErrorCode = isErrorCode(record['code']) ? record['code'] : 'internal';
  const topic = typeof record['topic'] === 'string' ? record['topic'] : undefined;
  const problem = (topicProblems as readonly unknown[]).includes(record['problem'])
    ? (record['problem'] as TopicProblem)
    : undefined;
  const issues = parseIssues(record['issues']);
  return {
    code,
    message,
    ...(topic !== undefined && { topic }),
    ...(problem !== undefined && { problem }),
    ...(issues !== undefined && { issues }),
    ...(typeof record['retryAfterMs'] === 'number' && record['retryAfterMs'] >= 0 && { retryAfterMs: record['retryAfterMs'] }),
  };
}

function parseIssues(value: unknown): WireIssue[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const issues: WireIssue[] = [];
  for (const entry of value) {
    if (typeof entry !== 'object' || entry === null || typeof entry.message !== 'string') return undefined;
    const path: unknown = entry.path;
    if (path === undefined) issues.push({ message: entry.message });
    else if (Array.isArray(path) && path.every((key) => typeof key === 'string' || typeof key === 'number')) {
      issues.push({ message: entry.message, path: path as Array<string | number> });
    } else return undefined;
  }
  return issues;
}

/** An `EventwireError` that remembers which request (frame id) it answers. */
export class FrameError extends EventwireError {
  override readonly name = 'FrameError';
  readonly frameId: FrameId | undefined;

  constructor(code: ErrorCode, message: string, frameId: FrameId | undefined, options?: ErrorOptions) {
    super(code, message, options);
    this.frameId = frameId;
  }
}

function parseObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw frameError('not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw frameError('a frame must be a JSON object');
  }
  return value as Record<string, unknown>;
}

const MAX_ID_LENGTH = 64;

function isFrameId(value: unknown): value is FrameId {
  return (
    (typeof value === 'number' && Number.isSafeInteger(value)) ||
    (typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH)
  );
}

function requireId(record: Record<string, unknown>): FrameId {
  const id = record['id'];
  if (!isFrameId(id)) throw frameError(`"id" must be an integer or a string of 1–${MAX_ID_LENGTH} chars`);
  return id;
}

function optionalId(record: Record<string, unknown>): FrameId | undefined {
  return record['id'] === undefined ? undefined : requireId(record);
}

function optionalIdOrUndefined(record: Record<string, unknown>): FrameId | undefined {
  return isFrameId(record['id']) ? record['id'] : undefined;
}

function optionalString(record: Record<string, unknown>, field: string, id?: FrameId): string | undefined {
  const value = record[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw frameError(`"${field}" must be a string`, id);
  return value;
}

function optionalCount(record: Record<string, unknown>, field: string, id: FrameId): number | undefined {
  const value = record[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw frameError(`"${field}" must be a non-negative integer`, id);
  return value;
}

function frameError(detail: string, id?: FrameId): FrameError {
  return new FrameError('invalid_frame', `Invalid frame: ${detail}`, id);
}

function withFrameId(error: unknown, id: FrameId | undefined): unknown {
  if (error instanceof EventwireError && !(error instanceof FrameError)) {
    return new FrameError(error.code, error.message, id, { cause: error });
  }
  return error;
}

function isMember(value: unknown): value is { id: string; info: Readonly<Record<string, unknown>> } {
  const member = value as { id?: unknown; info?: unknown } | null;
  return typeof member === 'object' && member !== null && typeof member.id === 'string' && typeof member.info === 'object' && member.info !== null;
}
