import type { WebSocketConstructor } from '@eventwire/event-channel';
import WebSocket from 'ws';
import { say } from '../events.js';

/**
 * The email service is an existing Synap pub/sub client, unchanged: a raw
 * WebSocket on /pubsub/ws with a topic list, and JSON.parse(msg.message) —
 * the code from Synap's pub/sub guide, pointed at the eventwire broker.
 * The WebSocket class is a parameter only so the tests can hand it a test
 * hub's (`hub.WebSocket`).
 */
export async function startEmailService(httpUrl: string, WebSocketClass: WebSocketConstructor = WebSocket) {
  const ws = new WebSocketClass(`${httpUrl.replace('http', 'ws')}/pubsub/ws?topics=events.order.*`);
  let sent = 0;
  ws.onmessage = (event) => {
    const msg = JSON.parse(String(event.data));
    if (msg.type !== 'message') return;
    const data = JSON.parse(msg.message);
    sent++;
    if (msg.topic === 'events.order.created') say('email', `order confirmation to ${data.email} (${data.orderId})`);
    else if (msg.topic === 'events.order.paid') say('email', `receipt for ${data.orderId}`);
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = (error) => reject(error);
  });
  return {
    sent: () => sent,
    close: () => ws.close(),
  };
}
