// The eventwire broker speaking Socket.IO, doing what servers/socketio.mjs
// does through broker.socketio: subscribing joins a room (a topic of the same
// name), publishing emits 'm' to the room, acknowledgements as barriers.
// socket.io-client (WebSocket transport) is the client for both, unchanged.
// Started through the broker's CLI: --config this file --port 0.
export default {
  socketio: true,
  setup(broker) {
    const io = broker.socketio;
    io.on('connection', (socket) => {
      // Socket.IO's in-memory join is synchronous; ours goes through the
      // broker's guarded subscribe, so the ack waits for it to be in place.
      socket.on('sub', (topic, ack) => {
        void socket.join(topic).then(
          () => ack(),
          (error) => ack({ error: error.code }),
        );
      });
      socket.on('pub', (topic, payload) => {
        io.to(topic).emit('m', payload);
      });
      socket.on('ping-barrier', (ack) => ack());
    });
  },
};
