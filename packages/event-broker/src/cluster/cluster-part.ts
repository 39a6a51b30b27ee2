// Something that rides on the cluster link's NATS connection: the history's
// mirror, presence across brokers, and whatever a later engine needs. The
// link owns the connection; each part is told when it is there.
import type { NatsConnection } from '@nats-io/transport-node';

export interface ClusterPart {
  /** The link connected (`first`), or came back after losing NATS. */
  opened(connection: NatsConnection, first: boolean): void;
  /** The link lost NATS (the client is reconnecting). */
  lost?(): void;
  /** The link is closing: before its connection drains. Idempotent. */
  close(): Promise<void>;
}
