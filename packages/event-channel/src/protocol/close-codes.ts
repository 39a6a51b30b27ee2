/**
 * WebSocket close codes the broker and the ws:// transport use. Application
 * codes live in 4000–4999 (RFC 6455 §7.4.2). The client decides from the code
 * alone whether reconnecting can help, so each code says which it is.
 */
export const closeCodes = {
  /** 1000: a deliberate close by either side. Client: do not reconnect. */
  normal: 1000,
  /** 1001: the broker is shutting down or restarting. Client: reconnect (it may come back). */
  goingAway: 1001,
  /** 1009: a frame exceeded the hard size limit, too big to even answer. Client: reconnect; the frame is lost. */
  messageTooBig: 1009,
  /** 4000: the peer broke the protocol beyond repair (e.g. binary frames). Client: reconnect. */
  protocolError: 4000,
  /** 4001: authentication failed or expired. Client: do not reconnect with the same credentials. */
  unauthorized: 4001,
  /** 4002: the client's protocol version is unsupported. Client: do not reconnect; upgrade. */
  unsupportedProtocol: 4002,
  /** 4008: the client stopped reading and its outbound buffer overflowed. Client: reconnect (events were lost). */
  slowConsumer: 4008,
  /** 4009: no heartbeat answer in time; the peer is presumed dead. Client: reconnect. */
  heartbeatTimeout: 4009,
} as const;

/** Codes after which reconnecting cannot help. */
export function isTerminalCloseCode(code: number): boolean {
  return code === closeCodes.normal || code === closeCodes.unauthorized || code === closeCodes.unsupportedProtocol;
}
