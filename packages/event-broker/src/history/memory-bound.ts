// How many bytes of history a broker keeps in memory by default: the bound
// the in-memory store, the durable log's index and a cluster broker's
// JetStream mirror all apply (`historyMaxMemoryBytes`).
import { availableMemory, type ProcessMemory } from '../capacity.js';

/**
 * The default `historyMaxMemoryBytes`: an eighth of the memory the process
 * may use (the cgroup's limit where there is one, `process.constrainedMemory`;
 * else the machine's), at most 1 GiB. An eighth, where the outbound budget
 * takes a quarter: history is held in the JS heap, at up to ~1.05× the bound
 * for ordinary data once collected, and a flood that trims it leaves garbage
 * until V8 collects it (bench/RESULTS.md, "History memory bound"), so a
 * container sized at idle + a quarter + an eighth × 2 + 128 MiB still has
 * room. 1 GiB holds over a million small events (~1 KB each as held), what the
 * store's 1,000,000-event bound kept before; a larger history needs choosing.
 */
export function defaultHistoryMemoryBytes(memory?: ProcessMemory): number {
  return Math.min(1024 ** 3, Math.floor(availableMemory(memory) / 8));
}
