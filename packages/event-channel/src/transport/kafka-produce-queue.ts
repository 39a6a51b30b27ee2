// kafka://'s produce queue: one produce in flight at a time, so a retry
// cannot reorder a publisher's events; what waited behind it goes as the next
// produce, batched; a produce whose answer was lost is sent again while the
// cluster answers (readers drop the copy by its event id); each emit settled
// with an ack or a typed error. Separate from the bus (kafka-bus.ts), which
// keeps the connection and hands this what it needs as a small host.
import type { Producer } from 'kafkajs';
import type { EventEnvelope } from '../envelope.js';
import { EventwireError } from '../errors.js';
import { isLeaderChange, isRefusal, produceFailure } from './kafka-errors.js';
import { recordOf, type OutboundRecord } from './kafka-record.js';

/** Tries of one produce while the cluster answers (a lost connection ends them: sent again after the reconnect). */
const PRODUCE_ATTEMPTS = 5;
/**
 * Bounds of one produce's batch. Records: a batch holds at most this many
 * emits (well under RECENT_IDS, so a re-sent batch's copies are all still
 * remembered). Bytes (values, keys and header text, estimated as UTF-16
 * length): under Kafka's default 1 MiB record batch limit
 * (message.max.bytes) with room for the framing, so a batch of small
 * records is never refused where each alone would be taken.
 */
const PRODUCE_BATCH_RECORDS = 500;
const PRODUCE_BATCH_BYTES = 512 * 1024;

/** A produce waiting for its turn (one in flight at a time). */
interface Produce {
  readonly topic: string;
  readonly payload: string;
  /** What the record's headers are made of (PubSubTransport always passes it). */
  readonly envelope: EventEnvelope | undefined;
  readonly resolve: () => void;
  readonly reject: (error: EventwireError) => void;
}

/** A record's size for the batch bound (a rough count: value, key and headers as characters). */
function recordBytes({ topic, payload, envelope }: Produce): number {
  return payload.length + topic.length * 2 + (envelope ? envelope.id.length + envelope.source.length + envelope.time.length + (envelope.traceparent?.length ?? 0) + 160 : 0);
}

type OutboundMessage = OutboundRecord | { readonly key: string; readonly value: string };

/** What the queue needs of its bus's connection. */
export interface KafkaProduceHost {
  /** Between the bus's `ready` and its next `reconnecting`. */
  connected(): boolean;
  /** The current connection's producer (none while away). */
  producer(): Producer | undefined;
  /** The Kafka topic of an eventwire topic. */
  nameOf(topic: string): string;
  /** The Kafka topic made as `ensureTopic` says, once per connection. */
  ensure(kafkaTopic: string): Promise<void>;
  /** After a failure: true when no broker answers Metadata either (then the bus has lost the connection). */
  probe(cause: unknown): Promise<boolean>;
  /** A pause between attempts, ended early by a loss or close. */
  sleep(ms: number): Promise<void>;
  backoff(attempt: number): number;
}

/** Emits waiting for Kafka's answer, sent one produce at a time. */
export class KafkaProduceQueue {
  readonly #host: KafkaProduceHost;
  /**
   * Produces waiting behind the one in flight, so a retry cannot reorder a
   * publisher's events. Refused with `connection_closed` once the connection
   * is lost: never handed to kafkajs while it is down.
   */
  #queue: Produce[] = [];
  #producing = false;

  constructor(host: KafkaProduceHost) {
    this.#host = host;
  }

  /** Settles once Kafka answered the produce it went in (the bus checked the topic and the connection). */
  add(topic: string, payload: string, envelope: EventEnvelope | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ topic, payload, envelope, resolve, reject });
      void this.#pump();
    });
  }

  /** Refuses every produce not yet sent `connection_closed` (the connection is lost, or the bus closed). */
  refuseAll(message: string): void {
    for (const waiting of this.#queue.splice(0)) waiting.reject(new EventwireError('connection_closed', message));
  }

  /**
   * Sends the queue one produce at a time, while connected: everything that
   * waited behind the one in flight goes as the next produce (one request
   * per leader, one record batch per partition), up to PRODUCE_BATCH_RECORDS
   * records or PRODUCE_BATCH_BYTES. Still one in flight, so a re-send cannot
   * reorder a publisher's events; the batch is what makes Kafka fast (a
   * consumer fetches whole record batches: librdkafka's mock answers only
   * one per partition per fetch, so one record per produce capped the
   * channel at ~2k/s there, bench/RESULTS.md).
   */
  async #pump(): Promise<void> {
    if (this.#producing) return;
    this.#producing = true;
    try {
      while (this.#host.connected() && this.#queue.length > 0) await this.#produce(this.#takeBatch());
    } finally {
      this.#producing = false;
    }
  }

  /** The next produce's records, from the front of the queue, in order (at least one, however large). */
  #takeBatch(): Produce[] {
    let bytes = 0;
    let count = 0;
    for (const waiting of this.#queue) {
      const size = recordBytes(waiting);
      if (count > 0 && (count >= PRODUCE_BATCH_RECORDS || bytes + size > PRODUCE_BATCH_BYTES)) break;
      bytes += size;
      count++;
    }
    return this.#queue.splice(0, count);
  }

  /** One produce of a batch: one answer settles every emit in it, a refusal refuses them all with its cause. */
  async #produce(batch: readonly Produce[]): Promise<void> {
    const settle = (error?: EventwireError): void => {
      for (const each of batch) {
        if (error) each.reject(error);
        else each.resolve();
      }
    };
    for (let attempt = 1; ; attempt++) {
      const producer = this.#host.producer();
      if (!producer || !this.#host.connected()) return settle(new EventwireError('connection_closed', 'the connection to Kafka was lost before this was sent'));
      try {
        for (const kafkaTopic of new Set(batch.map((each) => this.#host.nameOf(each.topic)))) await this.#host.ensure(kafkaTopic);
        await this.#send(producer, batch);
        return settle();
      } catch (error) {
        // A leader move: the old leader refused (nothing written there) and kafkajs refreshed its metadata; the new one is asked
        // (a batch over several leaders may have been written at the others: sent again, the copies dropped by id).
        if (isLeaderChange(error) && attempt < 5) {
          if (attempt > 1) await this.#host.sleep(this.#host.backoff(attempt - 1));
          continue;
        }
        // Not Kafka's refusal: maybe the whole cluster went away; then the queue behind goes back to the outbox.
        if (isRefusal(error)) return settle(produceFailure(error));
        // Not answered: maybe written, maybe not. Sent again either way (readers drop the copy by its
        // event id: RecentIds) — here while the cluster answers, else after the reconnect (connection_closed).
        if (await this.#host.probe(error)) return settle(new EventwireError('connection_closed', 'the connection to Kafka was lost while producing', { cause: error }));
        if (attempt >= PRODUCE_ATTEMPTS) return settle(produceFailure(error));
        await this.#host.sleep(this.#host.backoff(attempt));
      }
    }
  }

  /**
   * One produce to Kafka, answered once every in-sync replica has the
   * records (acks -1): the records grouped per Kafka topic, in queue order
   * within each (Kafka keeps order per partition, and the key keeps an
   * eventwire topic in one partition; nothing orders two Kafka topics'
   * records for a reader anyway).
   */
  #send(producer: Producer, batch: readonly Produce[]): Promise<unknown> {
    const byTopic = new Map<string, OutboundMessage[]>();
    for (const { topic, payload, envelope } of batch) {
      const kafkaTopic = this.#host.nameOf(topic);
      let messages = byTopic.get(kafkaTopic);
      if (!messages) byTopic.set(kafkaTopic, (messages = []));
      // Headers for plain Kafka readers (kafka-record.ts).
      messages.push(envelope ? recordOf(envelope, payload) : { key: topic, value: payload });
    }
    return producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
  }
}
