// Each of the cluster's brokers: the chat's map enforced, history kept for
// the chat (in a cluster, the engine's to share: a JetStream stream, or one
// Kafka topic every broker mirrors), joined to the shared server as its own
// node. What main.ts starts three times, and what the AsyncAPI test
// describes. Options rather than a config file: the cluster URL is only known
// once main.ts has started the shared server, and Kafka's `ensureTopic` is a
// function (a config holds neither).
import type { BrokerOptions, ClusterOptions } from '@eventwire/event-broker';
import { chat } from './events.js';

/** The first broker's port unless `--port` says otherwise; the others take the next two. */
export const firstBrokerPort = 15501;

/** What main.ts decides for one broker at run time. */
export interface ClusterBrokerRuntime {
  /** The node's name in the cluster (`broker-1`…), also its log prefix. */
  readonly node: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** The shared server (its URL, and Kafka's topic maker); `node` is added. */
  readonly cluster: Omit<ClusterOptions, 'node'>;
  readonly log?: (line: string) => void;
}

/** The options of one of the cluster's brokers. */
export function clusterBrokerOptions({ node, port, cluster, log }: ClusterBrokerRuntime): BrokerOptions<typeof chat> {
  return {
    events: chat,
    port,
    host: '127.0.0.1',
    cluster: { ...cluster, node },
    history: [{ pattern: 'chat.#', maxEvents: 100 }],
    ...(log && { log }),
  };
}
