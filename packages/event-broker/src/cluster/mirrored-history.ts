// What a cluster's history kept on its server (a JetStream stream, a Kafka
// topic) does the same way on every engine: each broker reads it into a
// local mirror (a MemoryHistoryStore) and answers every read from there, so
// an offset means the same on every broker. The engines differ in how the
// mirror is fed (nats/jetstream-history.ts, pubsub/kafka-history.ts); this
// is the part they share: the reads, and waiting for the load at start.
import { EventwireError } from '@eventwire/event-channel';
import { MemoryHistoryStore, type StoredEvent } from '@eventwire/event-channel/protocol';

export abstract class MirroredHistory {
  /** Empty and epoch-less until the server's history is found; replaced when it is found again under another epoch. */
  protected mirror = new MemoryHistoryStore({ epoch: '' });
  /** Called once the mirror holds what the server held at start (or with why it never will). */
  protected readyWaiters: Array<(failure?: EventwireError) => void> = [];

  get epoch(): string {
    return this.mirror.epoch;
  }

  get head(): number {
    return this.mirror.head;
  }

  read(pattern: string, after: number, limit: number): StoredEvent[] {
    return this.mirror.read(pattern, after, limit);
  }

  readLast(pattern: string, count: number): StoredEvent[] {
    return this.mirror.readLast(pattern, count);
  }

  trimmedAfter(pattern: string, after: number): boolean {
    return this.mirror.trimmedAfter(pattern, after);
  }

  findById(id: string): StoredEvent | undefined {
    return this.mirror.findById(id);
  }

  /**
   * Resolves when a ready waiter is called; rejects with `stalled(seen)` once
   * `timeoutMs` passes with the mirror not advancing. A load that advances is
   * waited for however long it takes: a restart over a million stored events
   * must not fail for being slower than the bound meant for an unreachable
   * server.
   */
  protected untilLoaded(timeoutMs: number, stalled: (seen: number) => EventwireError): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let seen = this.mirror.head;
      const timer = setInterval(() => {
        if (this.mirror.head > seen) return void (seen = this.mirror.head);
        clearInterval(timer);
        reject(stalled(seen));
      }, timeoutMs);
      this.readyWaiters.push((failure) => {
        clearInterval(timer);
        if (failure) reject(failure);
        else resolve();
      });
    });
  }
}
