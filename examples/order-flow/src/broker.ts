import { fileURLToPath } from 'node:url';
import { createBrokerFromConfig, loadBrokerConfigFile } from '@eventwire/event-broker';
import { exitIfPortBusy } from '../../shared/command-line.js';
import { say } from './events.js';

/** The example's broker config file (enforces the map, audits, derives fraud reviews). */
export const brokerConfigPath = fileURLToPath(new URL('../broker.config.ts', import.meta.url));

/**
 * Starts the broker from broker.config.ts, as `event-broker --config` would;
 * the demo's own flags (--port, --audit-log) override the file.
 */
export async function startShopBroker(overrides: { port?: number; auditLog?: string }) {
  const config = await loadBrokerConfigFile(brokerConfigPath);
  const configured = await createBrokerFromConfig(
    {
      ...config,
      ...(overrides.port !== undefined && { port: overrides.port }),
      ...(overrides.auditLog !== undefined && { auditLog: overrides.auditLog }),
    },
    { log: (line) => say('broker', line) },
  );
  const address = await configured.broker.listen().catch(exitIfPortBusy('order-flow', '--port', overrides.port ?? config.port));
  return { broker: configured.broker, address, close: configured.close };
}

