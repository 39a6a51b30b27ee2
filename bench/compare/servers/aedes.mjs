// Aedes, the MQTT broker a Node team would pick, over WebSockets (the way a
// browser reaches it), with its default in-memory persistence and emitter.
// QoS 0 publishes; a QoS 1 publish serves as the barrier. Prints its URL.
import { createServer } from 'node:http';
import { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';

const aedes = await Aedes.createBroker();
const http = createServer();
const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
wss.on('connection', (websocket, request) => aedes.handle(createWebSocketStream(websocket), request));
http.listen(0, '127.0.0.1', () => console.log(`listening on ws://127.0.0.1:${http.address().port}`));
process.on('SIGTERM', () => process.exit(0));
