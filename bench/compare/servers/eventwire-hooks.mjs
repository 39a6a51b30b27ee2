// The eventwire broker with N observers on '#' (argv[2]), for the cost of
// hooks: each observer sees every event through its own bounded queue.
// Runs the built package, like the plain broker. Prints its URL.
import { EventBrokerServer } from '@eventwire/event-broker';

const observers = Number(process.argv[2] ?? 0);
const broker = new EventBrokerServer({ port: 0, onError: () => {} });
let seen = 0;
for (let i = 0; i < observers; i++) broker.observe('#', () => void seen++);
const { url } = await broker.listen();
console.log(`listening on ${url} with ${observers} observer(s)`);
process.on('SIGTERM', () => void broker.close().then(() => process.exit(0)));
