import { join } from 'node:path';
import { MemoryHistoryStore, type HistoryStore } from '@eventwire/event-channel/protocol';
import type { ResolvedBrokerOptions } from '../options.js';
import { LogHistoryStore } from './log-store.js';

/** What the default store is built from (the broker's options, defaults applied). */
export type DefaultStoreOptions = Pick<ResolvedBrokerOptions, 'dataDir' | 'historyFsync' | 'historyMaxBytes' | 'historyMaxMemoryBytes'>;

/**
 * The store a broker keeps history in when no `historyStore` is given: on
 * disk under `dataDir/history` when a data directory is set (it survives a
 * restart), else in memory; either way within the in-memory byte bound.
 */
export function createDefaultHistoryStore(options: DefaultStoreOptions, log: (line: string) => void): HistoryStore {
  const memoryMaxBytes = options.historyMaxMemoryBytes;
  if (options.dataDir === undefined) return new MemoryHistoryStore({ maxBytes: memoryMaxBytes });
  return new LogHistoryStore({
    dir: join(options.dataDir, 'history'),
    memoryMaxBytes,
    fsync: options.historyFsync,
    maxBytes: options.historyMaxBytes,
    onWarning: log,
  });
}
