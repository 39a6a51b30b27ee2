// How many connections this process can hold: every socket is an open file,
// and so is every history segment, audit log, webhook and cluster connection.
// The connection cap keeps a reserve of descriptors below the process's
// limit, so the broker stays operable (health, stats, HTTP publish, its own
// files) when clients fill it.
import { readFileSync, readdirSync } from 'node:fs';
import { totalmem } from 'node:os';

/** The process's open-file limit, and where it was read. */
export interface OpenFileLimit {
  /** The soft limit (what `open()` and `accept()` run into). */
  readonly soft: number;
  readonly source: string;
}

/** Without a way to read the limit (not Linux), the cap assumed. */
export const FALLBACK_MAX_CONNECTIONS = 10_000;

/**
 * The soft `RLIMIT_NOFILE` of this process, from `/proc/self/limits`
 * (Linux); undefined where it cannot be read or is unlimited.
 */
export function readOpenFileLimit(path = '/proc/self/limits'): OpenFileLimit | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (!match || match[1] === 'unlimited') return undefined;
  return { soft: Number(match[1]), source: path };
}

/**
 * Descriptors a broker holds before its first client: Node's own (measured
 * under `prlimit --nofile=256`: 11 pipes, 8 event-loop descriptors, the
 * listening socket, stdio, ~25 in all), plus room for what it opens while
 * running (history segments, the audit log, cluster and webhook sockets).
 */
export const FIXED_DESCRIPTORS = 48;

/**
 * Descriptors kept out of the connection cap: the broker's fixed ones, plus
 * room for sockets in flight that are not clients — newcomers being refused
 * with a 503 (each holds a descriptor until its answer is flushed), HTTP
 * calls, probes — 5% of the limit, at least 32; at most 1000 in all (plenty
 * on any machine). With less, a burst of newcomers at the cap ran the
 * process out of descriptors, and the kernel's accept() failing left them
 * hanging or reset instead of answered.
 */
export function descriptorReserve(limit: number): number {
  return Math.min(1000, FIXED_DESCRIPTORS + Math.max(32, Math.ceil(limit * 0.05)));
}

/** How many descriptors this process has open now (Linux `/proc/self/fd`); undefined elsewhere. */
export function openDescriptors(path = '/proc/self/fd'): number | undefined {
  try {
    return readdirSync(path).length;
  } catch {
    return undefined;
  }
}

/** The default `maxConnections` and how it was derived (for `--print-config` and the log). */
export function defaultMaxConnections(limit: OpenFileLimit | undefined = readOpenFileLimit()): { readonly value: number; readonly reason: string } {
  if (!limit) return { value: FALLBACK_MAX_CONNECTIONS, reason: `fixed default (the open-file limit could not be read)` };
  const reserve = descriptorReserve(limit.soft);
  const value = Math.max(1, limit.soft - reserve);
  return { value, reason: `open-file limit ${limit.soft} (${limit.source}) − reserve ${reserve}` };
}

/**
 * The default bound on bytes queued for all readers together: a quarter of
 * the memory the process may use, at most 1 GiB (queues live outside the JS
 * heap, in socket buffers, so the heap limit is not the measure). In a
 * container that is the cgroup's limit, not the host's memory: `totalmem()`
 * reports the host's, and a quarter of a 64 GiB host in a 1 GiB container
 * would let the queues alone past the OOM killer.
 */
export function defaultTotalOutboundBytes(memory: ProcessMemory = processMemory()): number {
  return Math.min(1024 ** 3, Math.floor(availableMemory(memory) / 4));
}

/** The host's memory, and the cgroup's limit where Node can read one (`process.constrainedMemory`). */
export interface ProcessMemory {
  readonly total: number;
  readonly constrained?: number | undefined;
}

/** What this process may use: the cgroup's limit where there is one, else the host's memory. */
export function availableMemory(memory: ProcessMemory = processMemory()): number {
  // Without a limit, cgroup v2 reports 2^64: the host's memory is then the bound.
  return memory.constrained !== undefined && memory.constrained > 0 ? Math.min(memory.constrained, memory.total) : memory.total;
}

function processMemory(): ProcessMemory {
  return { total: totalmem(), constrained: process.constrainedMemory?.() };
}

/** Descriptors kept free even of plain HTTP connections: the broker's own files need some at any moment. */
const HARD_DESCRIPTOR_MARGIN = 16;

/**
 * The last line of defence for the descriptors: past the open-file limit
 * the kernel refuses accept() and newcomers hang or are reset, so the HTTP
 * server stops taking TCP connections a little before it, counting what the
 * process holds already (Node's own descriptors, the cluster link, history
 * files). The WebSocket cap sits lower, leaving room between the two for
 * newcomers being refused and HTTP calls; this only bites when plain HTTP
 * calls flood that room. Undefined where the limit cannot be read.
 */
export function tcpBackstop(): { readonly maxConnections: number; readonly soft: number; readonly held: number } | undefined {
  const fileLimit = readOpenFileLimit();
  if (!fileLimit) return undefined;
  const held = openDescriptors() ?? 0;
  return { maxConnections: Math.max(1, fileLimit.soft - held - HARD_DESCRIPTOR_MARGIN), soft: fileLimit.soft, held };
}
