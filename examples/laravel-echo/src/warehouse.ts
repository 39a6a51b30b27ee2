// The warehouse: a Node service on the native protocol, in the same event
// space as the Pusher clients. It hears every OrderPlaced the backend sends
// through the Pusher HTTP API and answers with OrderPacked, broadcast the way
// a Laravel event is (broadcastOn, broadcastAs, broadcastWith): to the board,
// and to the customer's private channel.
import { EventChannel } from '@eventwire/event-channel';
import { channelDriver, createBroadcaster } from '@eventwire/event-channel/broadcasting';

interface Order {
  readonly id: string;
  readonly item: string;
  readonly customer: string;
}

class OrderPacked {
  constructor(readonly order: Order) {}
  broadcastOn() {
    return ['orders', `private-user.${this.order.customer}`];
  }
  broadcastAs() {
    return 'OrderPacked';
  }
  broadcastWith() {
    return { id: this.order.id, item: this.order.item, packedBy: 'warehouse' };
  }
}

export async function startWarehouse(url: string, token: string, log: (line: string) => void): Promise<EventChannel> {
  const channel = new EventChannel({ url, ws: { token } });
  const broadcast = createBroadcaster(channelDriver(channel));
  channel.on('orders', (data, event) => {
    // The Pusher event name travels as metadata.event; the board hears OrderPacked too.
    if (event.metadata?.['event'] !== 'OrderPlaced') return;
    const order = data as Order;
    broadcast(new OrderPacked(order)).then(
      () => log(`warehouse packed ${order.id} for ${order.customer}`),
      (error: Error) => log(`warehouse could not announce ${order.id}: ${error.message}`),
    );
  });
  await channel.ready();
  return channel;
}
