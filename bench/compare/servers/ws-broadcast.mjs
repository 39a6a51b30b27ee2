// The bare `ws` broadcast server: the Node.js ceiling, a broker with zero
// features. Exact-topic subscriptions in a Map, the payload forwarded as is
// (encoded once by the publisher), a ping for barriers. Prints its URL.
//   → {"s":"topic"}                subscribe (answered {"ok":"topic"})
//   → {"p":"topic","d":<string>}   publish: every subscriber receives <string>
//   → {"ping":n}                   answered {"pong":n}
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
const topics = new Map();
wss.on('connection', (socket) => {
  const mine = new Set();
  socket.on('message', (raw) => {
    const message = JSON.parse(String(raw));
    if (message.p !== undefined) {
      for (const subscriber of topics.get(message.p) ?? []) subscriber.send(message.d);
    } else if (message.s !== undefined) {
      let set = topics.get(message.s);
      if (!set) topics.set(message.s, (set = new Set()));
      set.add(socket);
      mine.add(message.s);
      socket.send(JSON.stringify({ ok: message.s }));
    } else if (message.ping !== undefined) {
      socket.send(JSON.stringify({ pong: message.ping }));
    }
  });
  socket.on('close', () => {
    for (const topic of mine) topics.get(topic)?.delete(socket);
  });
});
wss.on('listening', () => console.log(`listening on ws://127.0.0.1:${wss.address().port}`));
process.on('SIGTERM', () => process.exit(0));
