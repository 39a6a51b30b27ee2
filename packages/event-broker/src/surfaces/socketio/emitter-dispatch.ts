// What one decoded Redis emitter message asks of the Socket.IO server, done
// through the server-side API (server-api.ts) and nothing else: an emit is
// `of(nsp).to(rooms).except(...)[.volatile].emit(event, ...args)`, a request
// is `socketsJoin`/`socketsLeave`/`disconnectSockets` on the same selection.
// The bridge calls it once per message and counts the outcome; it never
// throws, so a bad message cannot stop the subscriber.
//
// Checked here, before the server sees anything, so the refusal has the same
// reason whatever the surface does: the namespace must be one the
// configuration accepts (calling `of` on any other would declare it: an
// emitter could grow the server without bound), and every room and `except`
// entry must map onto a topic (rooms.ts), else `invalid_topic`.
import { EventwireError, type TopicLimits } from '@eventwire/event-channel';
import type { EmitterItem } from './redis-messages.js';
import { namespaceTopic, roomTopic } from './rooms.js';
import type { BroadcastOperator, NamespaceName, SocketIoServer } from './server-api.js';

/** What the emitters may use but the broker does not do: python's `callback` (a write-only manager cannot ask for one) and the Node emitter's `serverSideEmit` (there are no other Socket.IO servers to tell). */
export type UnsupportedEmitterFeature = 'callback' | 'serverSideEmit';

/** How one message ended. `reason` is a stable lowercase word: an `EmitterMessageError` reason, `unknown_namespace`, or the `EventwireError` code the server refused with. */
export type DispatchOutcome =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'unsupported'; readonly feature: UnsupportedEmitterFeature }
  | { readonly kind: 'refused'; readonly reason: string; readonly error: EventwireError };

export interface DispatchOptions {
  /** Whether the emitters may reach namespace `name`. */
  readonly acceptNamespace: (name: NamespaceName) => boolean;
  readonly topicLimits: TopicLimits;
}

/** Carries `item` out on `server`; never throws. */
export function dispatchEmitterItem(item: EmitterItem, server: SocketIoServer, options: DispatchOptions): DispatchOutcome {
  if (item.kind === 'ignored') return { kind: 'unsupported', feature: 'callback' };
  const target = item.kind === 'emit' ? item.message : item.request;
  if (target.nsp.length === 0 || !target.nsp.startsWith('/')) return refused('invalid_topic', new EventwireError('invalid_topic', 'A namespace starts with "/"'));
  const nsp = target.nsp as NamespaceName;
  try {
    namespaceTopic(nsp, options.topicLimits);
  } catch (error) {
    return refusal(error);
  }
  if (!options.acceptNamespace(nsp)) {
    return refused('unknown_namespace', new EventwireError('invalid_topic', `Namespace ${JSON.stringify(nsp.slice(0, 60))} is not one the emitters may reach`));
  }
  const request = item.kind === 'request' ? item.request : undefined;
  if (request?.type === 'serverSideEmit') return { kind: 'unsupported', feature: 'serverSideEmit' };
  const message = item.kind === 'emit' ? item.message : undefined;
  const selection = message ?? request!;
  try {
    const named = [...selection.rooms, ...selection.except];
    if (request?.type === 'socketsJoin') named.push(...request.join);
    if (request?.type === 'socketsLeave') named.push(...request.leave);
    for (const room of named) roomTopic(nsp, room, options.topicLimits);
    let operator: BroadcastOperator = server.of(nsp);
    if (selection.rooms.length > 0) operator = operator.to(selection.rooms);
    if (selection.except.length > 0) operator = operator.except(selection.except);
    if (message !== undefined) {
      if (message.volatile) operator = operator.volatile;
      operator.emit(message.event, ...message.args);
    } else if (request!.type === 'socketsJoin') operator.socketsJoin(request!.join);
    else if (request!.type === 'socketsLeave') operator.socketsLeave(request!.leave);
    else operator.disconnectSockets(request!.close);
    return { kind: 'delivered' };
  } catch (error) {
    return refusal(error);
  }
}

function refusal(error: unknown): DispatchOutcome {
  if (error instanceof EventwireError) return refused(error.code, error);
  // A surface bug, not the emitter's: counted apart so it stands out in /metrics.
  return refused('internal', new EventwireError('internal', error instanceof Error ? error.message : String(error), { cause: error }));
}

function refused(reason: string, error: EventwireError): DispatchOutcome {
  return { kind: 'refused', reason, error };
}

