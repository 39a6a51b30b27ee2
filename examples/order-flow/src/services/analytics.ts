import type { EventChannel } from '@eventwire/event-channel';
import { say, type Shop } from '../events.js';

/** Counts everything under events.# and the revenue it represents, on the channel it is given. */
export async function startAnalyticsService(channel: EventChannel<Shop>) {
  const counts = new Map<string, number>();
  let revenue = 0;
  channel.on('events.#', (data, event) => {
    counts.set(event.topic, (counts.get(event.topic) ?? 0) + 1);
    if (event.topic === 'events.payment.received') revenue += event.data.amount;
    void data;
  });
  await channel.ready();
  return {
    channel,
    summary: () => `${[...counts].map(([topic, n]) => `${topic}=${n}`).join(' ')} revenue=${revenue.toFixed(2)}`,
    counts,
  };
}

/** Acts on the broker's derived fraud.review events, on the channel it is given. */
export async function startFraudDesk(channel: EventChannel<Shop>) {
  const reviews: string[] = [];
  channel.on('fraud.review', (review, event) => {
    reviews.push(review.orderId);
    say('fraud-desk', `review ${review.orderId}: ${review.reason} (caused by event ${event.metadata?.['causationid']})`);
  });
  await channel.ready();
  return {
    channel,
    reviews,
    /** `reviews: o3, o6` — the last ten when there were more. */
    summary: () =>
      reviews.length === 0
        ? 'reviews: none'
        : reviews.length <= 10
          ? `reviews: ${reviews.join(', ')}`
          : `reviews: ${reviews.length} (last: ${reviews.slice(-10).join(', ')})`,
  };
}
