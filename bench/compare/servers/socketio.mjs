// Socket.IO 4 with rooms: the broker a Node team would most likely pick
// instead. Subscribing joins a room; publishing emits to the room. WebSocket
// transport only (no long-polling), acknowledgements as barriers. Prints its URL.
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const http = createServer();
const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
io.on('connection', (socket) => {
  socket.on('sub', (topic, ack) => {
    void socket.join(topic);
    ack();
  });
  socket.on('pub', (topic, payload) => {
    io.to(topic).emit('m', payload);
  });
  socket.on('ping-barrier', (ack) => ack());
});
http.listen(0, '127.0.0.1', () => console.log(`listening on ws://127.0.0.1:${http.address().port}`));
process.on('SIGTERM', () => process.exit(0));
