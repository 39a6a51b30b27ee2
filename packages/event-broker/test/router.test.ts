// The router's per-topic match cache (issue #35): with it, every publish
// reaches exactly who an uncached reference says, through any sequence of
// subscribes, unsubscribes, removals and publishes; and it stays bounded
// however many topics clients publish to.
import { topicMatches, type EventEnvelope } from '@eventwire/event-channel';
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RoutedEvent, Router, type Subscriber } from '../src/router.js';

const test = suite('router');

/** Records what reached it; optionally acts on the router when reached (a session closing mid-route). */
class Recorder implements Subscriber {
  readonly received: string[] = [];
  onDeliver: (() => void) | undefined;
  constructor(readonly id: string) {}
  deliver(event: RoutedEvent): void {
    this.received.push(event.envelope.topic);
    this.onDeliver?.();
  }
}

function event(topic: string): RoutedEvent {
  const envelope: EventEnvelope = { id: 'e', topic, source: 's', time: '2026-12-07T00:00:00Z', data: null };
  return new RoutedEvent(envelope);
}

/** Who a topic reaches, by definition: a matching pattern, and on a guarded channel its exact name. */
function reference(model: Map<string, Set<string>>, topic: string, except?: string): string[] {
  const guarded = topic.startsWith('private-') || topic.startsWith('presence-') || topic.startsWith('$');
  const out: string[] = [];
  for (const [id, patterns] of model) {
    if (id === except) continue;
    if (guarded ? patterns.has(topic) : [...patterns].some((pattern) => topicMatches(pattern, topic))) out.push(id);
  }
  return out.sort();
}

const topics = ['a.b', 'a.c', 'a.b.c', 'x', 'private-room.1', 'presence-room.2', 'a.b.d'];
const patterns = [...topics, 'a.*', 'a.#', '#', '*', 'a.*.c', 'private-room.*', 'presence-#'];
const ids = ['s0', 's1', 's2', 's3', 's4'];

const command = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('subscribe' as const), id: fc.constantFrom(...ids), pattern: fc.constantFrom(...patterns) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('unsubscribe' as const),
      id: fc.constantFrom(...ids),
      pattern: fc.constantFrom(...patterns),
      // Mostly one the subscriber holds (else a random one rarely changes anything).
      held: fc.nat({ max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), id: fc.constantFrom(...ids) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('publish' as const),
      topic: fc.constantFrom(...topics),
      except: fc.option(fc.constantFrom(...ids), { nil: undefined }),
      // The first subscriber reached leaves the router while the route is under way.
      removeOnDeliver: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('count' as const), topic: fc.constantFrom(...topics) }) },
);

for (const capacity of [10_000, 2, 0]) {
  test(`cached routing equals the uncached reference over random sequences (matchCacheTopics ${capacity})`, () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 60 }), (commands) => {
        const router = new Router({ matchCacheTopics: capacity });
        const subscribers = new Map(ids.map((id) => [id, new Recorder(id)]));
        const model = new Map<string, Set<string>>();
        for (const step of commands) {
          if (step.kind === 'subscribe') {
            const added = router.subscribe(subscribers.get(step.id)!, step.pattern);
            const held = model.get(step.id) ?? new Set<string>();
            assert.is(added, !held.has(step.pattern));
            model.set(step.id, held.add(step.pattern));
          } else if (step.kind === 'unsubscribe') {
            const held = model.get(step.id);
            const pattern = held !== undefined && step.held > 0 ? [...held][step.held % held.size]! : step.pattern;
            assert.is(router.unsubscribe(subscribers.get(step.id)!, pattern), held?.delete(pattern) ?? false);
            if (held?.size === 0) model.delete(step.id);
          } else if (step.kind === 'remove') {
            router.remove(subscribers.get(step.id)!);
            model.delete(step.id);
          } else if (step.kind === 'count') {
            assert.is(router.countMatching(step.topic), reference(model, step.topic).length);
          } else {
            const expected = reference(model, step.topic, step.except);
            for (const subscriber of subscribers.values()) subscriber.received.length = 0;
            let left: string | undefined;
            if (step.removeOnDeliver) {
              for (const subscriber of subscribers.values()) {
                subscriber.onDeliver = () => {
                  if (left !== undefined) return;
                  left = subscriber.id;
                  router.remove(subscriber);
                };
              }
            }
            const reached = router.route(event(step.topic), step.except);
            for (const subscriber of subscribers.values()) subscriber.onDeliver = undefined;
            const delivered = ids.filter((id) => subscribers.get(id)!.received.length > 0);
            // Who was matched when the route began is reached, once each, even if one leaves meanwhile.
            assert.equal(delivered, expected, `publish ${step.topic}`);
            for (const id of delivered) assert.is(subscribers.get(id)!.received.length, 1);
            assert.is(reached, expected.length);
            if (left !== undefined) model.delete(left);
          }
        }
      }),
      { numRuns: 2_000 },
    );
  });
}

test('holds at most matchCacheTopics topics, however many are published to', () => {
  const router = new Router({ matchCacheTopics: 100 });
  const everything = new Recorder('all');
  router.subscribe(everything, '#');
  for (let i = 0; i < 10_000; i++) assert.is(router.route(event(`random.${i}`)), 1);
  assert.is(router.matchCacheSize, 100);
  assert.is(everything.received.length, 10_000);
});

test('a subscription made after a topic was cached reaches its next publish; an unsubscribed one does not', () => {
  const router = new Router();
  const early = new Recorder('early');
  const late = new Recorder('late');
  router.subscribe(early, 'a.*');
  assert.is(router.route(event('a.b')), 1);
  router.subscribe(late, 'a.b');
  assert.is(router.route(event('a.b')), 2);
  router.unsubscribe(early, 'a.*');
  assert.is(router.route(event('a.b')), 1);
  assert.equal([early.received.length, late.received.length], [2, 2]);
});

test('a removed (disconnected) subscriber is held by no cache entry: the cache is emptied', () => {
  const router = new Router();
  const gone = new Recorder('gone');
  const stays = new Recorder('stays');
  router.subscribe(gone, 'a.*');
  router.subscribe(stays, 'b.*');
  router.route(event('a.x'));
  router.route(event('b.x'));
  assert.is(router.matchCacheSize, 2);
  router.remove(gone);
  assert.is(router.matchCacheSize, 0);
  assert.is(router.route(event('b.x')), 1);
});

test('a bad matchCacheTopics is invalid_config', () => {
  for (const bad of [-1, 1.5, Number.NaN]) {
    try {
      new Router({ matchCacheTopics: bad });
      assert.unreachable(`accepted ${bad}`);
    } catch (error) {
      assert.is((error as { code?: unknown }).code, 'invalid_config');
    }
  }
});

test.run();
