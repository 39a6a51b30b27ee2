// The cluster engine over Kafka (kafka://host:9092[,host:9092]): the pub/sub
// engine on the event-channel's kafka:// transport. Each broker produces the
// events that entered it to their Kafka topics and reads, without a consumer
// group (a group would split events between brokers), the Kafka topics of
// the patterns its clients hold. The brokers' own messages (`_EVENTWIRE.…`)
// ride on the Kafka topic `_EVENTWIRE`. Unlike Redis and PostgreSQL, Kafka
// keeps what was produced while a broker was away: its reader resumes from
// its positions, so a plain outage is no gap. History rules are served from
// one Kafka topic every broker mirrors (kafka-history.ts). kafkajs is loaded
// when the engine connects, not before.
import type { HistoryRules } from '@eventwire/event-channel/protocol';
import { KafkaTransport } from '@eventwire/event-channel/protocol';
import type { ClusterHistory, ClusterHistoryHost } from '../cluster-engine.js';
import type { ResolvedClusterOptions } from '../cluster-options.js';
import { KafkaHistory } from './kafka-history.js';
import { PubSubClusterEngine, type PubSubEngineTransportOptions } from './pubsub-engine.js';

export class KafkaClusterEngine extends PubSubClusterEngine {
  readonly #options: ResolvedClusterOptions;
  #common: PubSubEngineTransportOptions | undefined;
  #history: KafkaHistory | undefined;

  constructor(options: ResolvedClusterOptions) {
    let common: PubSubEngineTransportOptions | undefined;
    super('kafka', options, (given) => {
      common = given;
      const { history: _history, ...transport } = options.kafka ?? {};
      return new KafkaTransport({ ...given, ...transport });
    });
    this.#options = options;
    this.#common = common;
  }

  /**
   * The cluster's history in one Kafka topic of one partition, read by every
   * broker from its start (kafka-history.ts); on a transport of its own (the
   * engine's does not hear this broker's own records).
   */
  sharedHistory(rules: HistoryRules, host: ClusterHistoryHost): ClusterHistory {
    const { history = {}, ...kafka } = this.#options.kafka ?? {};
    const common = this.#common!;
    this.#history = new KafkaHistory(
      { url: common.url, ...(common.backoff && { backoff: common.backoff }), ...kafka },
      { mirrorMaxBytes: host.memoryMaxBytes, ...history },
      rules,
      this.node,
      {
        accept: (raw, own) => host.accept(raw, own),
        deliver: (envelope, except, own) => host.deliver(envelope, except, own),
        dropped: (error) => this.dropped(error, false),
        report: (error) => host.report(error),
        log: (line) => host.log(line),
      },
    );
    return this.#history;
  }

  override start(): void {
    super.start();
    this.#history?.start();
  }

  override async close(): Promise<void> {
    await Promise.all([super.close(), this.#history?.close()]);
  }
}

export function createKafkaEngine(options: ResolvedClusterOptions): KafkaClusterEngine {
  return new KafkaClusterEngine(options);
}
