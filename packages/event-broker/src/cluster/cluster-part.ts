// What rides on a cluster engine besides events: presence across brokers
// (and, inside the NATS engine, the history's mirror). The engine owns the
// connection; each part is told when it is there. Parts speak over a
// ClusterBus, the same on every engine, so presence works wherever the
// events go.

/**
 * The brokers' own messages (never events) on internal subjects
 * (`_EVENTWIRE.…`): JSON bodies, each broker hearing the others', not its own.
 */
export interface ClusterBus {
  /** Every body published on `subject` by another broker, in the order each sent them; `reply` when it was a request. Returns the stop. */
  subscribe(subject: string, handle: (body: unknown, reply: ((answer: object) => void) | undefined) => void): () => void;
  publish(subject: string, body: object): void;
  /** Publishes a request; every answer goes to `answer` (in the order each broker sent them, with its other messages) until the returned stop. */
  request(subject: string, body: object, answer: (body: unknown) => void): () => void;
}

export interface ClusterPart {
  /** The engine connected (`first`), or came back after losing its server. */
  opened(bus: ClusterBus, first: boolean): void;
  /** The engine lost its server (and is reconnecting). */
  lost?(): void;
  /** The engine is closing: before its connection goes. Idempotent. */
  close(): Promise<void>;
}
