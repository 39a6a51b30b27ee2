// @eventwire/event-broker/testing: your services' event flows against your
// own broker config, in-process, on virtual time.
export { createTestHub, testHubDefaults } from './test-hub.js';
export type { HubChannelOptions, HubNextOptions, TestHub, TestHubOptions } from './test-hub.js';
