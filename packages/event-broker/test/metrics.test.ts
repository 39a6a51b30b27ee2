// GET /metrics after real traffic over real sockets, read three ways: with a
// Prometheus text-format parser (parse-prometheus-text-format) for exact
// values — connections by surface, publishes, deliveries, refusals by
// reason, hook counts, topic groups (bounded: random topics add no series),
// bytes, prom-client's process metrics with the event-loop lag —, linted by
// `promtool check metrics`, and scraped by a real Prometheus server (with a
// bearer token) whose queries see the counters and the hook-duration
// histogram.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { prometheusAvailable, promtoolProblems, startPrometheus } from '../../../scripts/testing/prometheus.js';
import { RawClient, startBroker, until, type TestBroker } from './helpers.js';

type Family = ReturnType<typeof parsePrometheusTextFormat>[number];

const parse = parsePrometheusTextFormat;
const KEY = 'metrics-test-key-0123456789';
const test = suite<{ server: TestBroker<never> }>('metrics (/metrics in Prometheus format)');

test.before(async (context) => {
  context.server = (await startBroker(
    {
      pusher: true,
      metrics: { topicGroups: ['order.#', 'chat.*'] },
      authenticate: ({ token }) => {
        if (token !== KEY) throw new Error('unknown key');
        return { id: 'ops' };
      },
    },
    (broker) => {
      broker.intercept('order.*', (event, context) => {
        if ((event.data as { total?: number }).total === 0) context.reject('total must be positive');
      });
      broker.observe('order.#', () => {});
    },
  )) as never;
});
test.after(async (context) => {
  await context.server.stop();
});

async function scrape(server: TestBroker<never>): Promise<Map<string, Family>> {
  const response = await fetch(`${server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${KEY}` } });
  assert.is(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return new Map(parse(await response.text()).map((family) => [family.name, family]));
}

/** The value of the one sample of `name` whose labels include `labels`. */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  assert.ok(family, `${name} is exported`);
  const sample = family.metrics.find((each) => Object.entries(labels).every(([key, wanted]) => each.labels?.[key] === wanted));
  assert.ok(sample, `${name}${JSON.stringify(labels)} has a sample`);
  return Number(sample.value ?? sample.count);
}

test('real traffic shows in the counters, by surface, reason, hook and topic group', async ({ server }) => {
  const subscriber = await RawClient.open(`${server.url}/?token=${KEY}`);
  subscriber.send({ type: 'hello', protocol: 1 });
  await subscriber.next((frame) => frame['type'] === 'welcome');
  subscriber.send({ type: 'subscribe', id: 's', pattern: 'order.#' });
  await subscriber.next((frame) => frame['id'] === 's');
  const pusher = await RawClient.open(`${server.url}/app/app-key?protocol=7`);
  await pusher.next((frame) => frame['event'] === 'pusher:connection_established');
  const refused = await fetch(`${server.httpUrl}/stats`, { headers: { authorization: 'Bearer wrong' } });
  assert.is(refused.status, 401);
  try {
    const before = await scrape(server);
    const published = value(before, 'eventwire_published_total');
    const deliveries = value(before, 'eventwire_deliveries_total');
    await server.broker.publish('order.created' as never, { total: 5 } as never);
    await server.broker.publish('order.created' as never, { total: 0 } as never).catch(() => {});
    await server.broker.publish('chat.lobby' as never, { text: 'hi' } as never);
    await server.broker.publish('misc.thing' as never, {} as never);
    await subscriber.next((frame) => frame['type'] === 'event');
    const after = await scrape(server);

    assert.is(after.get('eventwire_connections')!.type, 'GAUGE');
    assert.is(value(after, 'eventwire_connections', { surface: 'native' }), 1);
    assert.is(value(after, 'eventwire_connections', { surface: 'pusher' }), 1);
    assert.is(after.get('eventwire_published_total')!.type, 'COUNTER');
    assert.is(value(after, 'eventwire_published_total') - published, 3, 'three accepted, one refused by the hook');
    assert.is(value(after, 'eventwire_deliveries_total') - deliveries, 1);
    assert.is(value(after, 'eventwire_rejected_total'), 1);
    assert.ok(value(after, 'eventwire_refused_total', { reason: 'unauthorized' }) >= 1);
    assert.is(value(after, 'eventwire_topic_group_events_total', { topic_group: 'order.#' }), 1);
    assert.is(value(after, 'eventwire_topic_group_deliveries_total', { topic_group: 'order.#' }), 1);
    assert.is(value(after, 'eventwire_topic_group_events_total', { topic_group: 'chat.*' }), 1);
    assert.is(value(after, 'eventwire_topic_group_events_total', { topic_group: 'other' }), 1);
    assert.is(value(after, 'eventwire_hook_calls_total', { kind: 'intercept', hook: 'order.*' }), 2);
    assert.is(after.get('eventwire_hook_duration_seconds')!.type, 'HISTOGRAM');
    assert.ok(value(after, 'eventwire_sent_bytes_total') > 0 && value(after, 'eventwire_received_bytes_total') > 0, 'socket bytes counted');
    assert.ok(after.has('nodejs_eventloop_lag_seconds'), "prom-client's default metrics, event-loop lag included");
    assert.ok(after.has('process_cpu_user_seconds_total'));
  } finally {
    subscriber.close();
    pusher.close();
  }
});

const withPrometheus = prometheusAvailable();
(withPrometheus ? test : test.skip)('promtool finds nothing to lint in eventwire_ metrics; a real Prometheus scrapes them with a bearer token and queries the counters and the hook histogram', async ({ server }) => {
  const text = await (await fetch(`${server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
  // prom-client's own default metrics carry lint findings of their own (nodejs_active_handles_total is a gauge); ours must have none.
  const ours = promtoolProblems(text).filter((line) => line.startsWith('eventwire_'));
  assert.equal(ours, []);
  const prometheus = await startPrometheus({ target: `127.0.0.1:${server.port}`, bearer: KEY });
  try {
    const published = server.broker.stats().published;
    const read = async (expression: string): Promise<number | undefined> => {
      const [first] = await prometheus.query(expression);
      return first === undefined ? undefined : Number(first.value[1]);
    };
    const deadline = Date.now() + 15_000;
    while ((await read('up{job="eventwire"}')) !== 1 || ((await read('eventwire_published_total')) ?? -1) < published) {
      if (Date.now() > deadline) throw new Error(`Prometheus did not scrape the broker: up=${await read('up')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.is(await read('eventwire_hook_duration_seconds_count{kind="intercept",hook="order.*"}'), 2, 'both intercept runs timed');
    const p99 = await read('histogram_quantile(0.99, eventwire_hook_duration_seconds_bucket{kind="intercept"})');
    assert.ok(p99 !== undefined && p99 > 0 && p99 <= 10, `a p99 from the buckets: ${p99}`);
    assert.is(await read('eventwire_connections_admitted'), 0);
  } finally {
    await prometheus.stop();
  }
});

test('cardinality stays bounded: events on a thousand new topics add no series', async ({ server }) => {
  const before = await scrape(server);
  const seriesCount = (families: Map<string, Family>) => [...families.values()].filter((family) => family.name.startsWith('eventwire_')).reduce((total, family) => total + family.metrics.length, 0);
  for (let n = 0; n < 1000; n++) await server.broker.publish(`random.topic${n}` as never, {} as never);
  const after = await scrape(server);
  assert.is(seriesCount(after), seriesCount(before));
  assert.ok(value(after, 'eventwire_topic_group_events_total', { topic_group: 'other' }) >= 1000);
});

test('recoveries: resumes, the events replayed and the gaps told are counted', async () => {
  const server = await startBroker({ history: [{ pattern: 'order.#' }] });
  try {
    for (let n = 1; n <= 3; n++) await server.broker.publish('order.created' as never, { n } as never);
    const client = await RawClient.native(server.url);
    // From before the first event: all three are replayed; chat.# keeps no history, a gap.
    client.send({ type: 'resume', id: 'r', patterns: ['order.#', 'chat.#'], since: `${server.broker.stats().history!.epoch}:0` });
    await client.next((frame) => frame['type'] === 'gap');
    await until(() => client.received.filter((frame) => frame['type'] === 'event').length === 3, 'the replay');
    client.close();
    const families = new Map(parse(await (await fetch(`${server.httpUrl}/metrics`)).text()).map((family) => [family.name, family]));
    assert.is(value(families, 'eventwire_recoveries_total'), 1);
    assert.is(value(families, 'eventwire_replayed_events_total'), 3);
    assert.is(value(families, 'eventwire_recovery_gaps_total'), 1, 'chat.# keeps no history');
  } finally {
    await server.stop();
  }
});

test('/metrics is behind the broker\'s authentication; metrics: false turns it off', async ({ server }) => {
  assert.is((await fetch(`${server.httpUrl}/metrics`)).status, 401);
  const off = await startBroker({ metrics: false });
  try {
    assert.is((await fetch(`${off.httpUrl}/metrics`)).status, 404);
  } finally {
    await off.stop();
  }
});

test.run();
