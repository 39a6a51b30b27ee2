// The client side of connection-memory.bench.ts: opens idle connections and
// reports once all are established (greeted and subscribed for eventwire).
import WebSocket from 'ws';

const [url, count, protocol] = [process.argv[2]!, Number(process.argv[3]), process.argv[4]];
const sockets: WebSocket[] = [];
for (let opened = 0; opened < count; opened += 100) {
  await Promise.all(
    Array.from(
      { length: Math.min(100, count - opened) },
      (_, k) =>
        new Promise<void>((resolve, reject) => {
          const socket = new WebSocket(url, { perMessageDeflate: false });
          sockets.push(socket);
          socket.once('error', reject);
          socket.once('open', () => {
            if (protocol === 'raw') return resolve();
            socket.send(JSON.stringify({ type: 'hello', protocol: 1 }));
            socket.send(JSON.stringify({ type: 'subscribe', id: 1, pattern: `idle.c${opened + k}` }));
            // The ack of the subscribe (after the welcome) means the server holds it all.
            socket.on('message', (data) => String(data).includes('"ack"') && resolve());
          });
        }),
    ),
  );
}
process.send!('ready');
await new Promise(() => {});
