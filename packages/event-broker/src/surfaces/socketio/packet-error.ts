// The one error the Socket.IO codecs throw for what a peer sent. Its `code` is
// one of eventwire's (`invalid_frame`, `payload_too_large`, `invalid_payload`)
// so the surface answers it like any other refusal; `reason` says which rule
// was broken, stable and lowercase, for tests, logs and metrics. The surface
// closes the Engine.IO connection on any of them: that is what socket.io does
// and what the official conformance suite expects.
import { EventwireError, type ErrorCode } from '@eventwire/event-channel';

/** Why a Socket.IO packet was refused (socket.io-parser's validity rules, plus our bounds). */
export type SocketIoPacketProblem =
  | 'unknown_type'
  | 'illegal_attachments'
  | 'too_many_attachments'
  | 'bad_namespace'
  | 'bad_ack_id'
  | 'not_json'
  | 'invalid_payload'
  | 'reserved_event'
  | 'illegal_placeholder'
  | 'unexpected_attachment'
  | 'too_large'
  | 'too_deep';

/** A Socket.IO packet (or one of its attachments) that cannot be accepted. */
export class SocketIoPacketError extends EventwireError {
  override readonly name = 'SocketIoPacketError';
  readonly reason: SocketIoPacketProblem;

  constructor(reason: SocketIoPacketProblem, message: string) {
    super(codeOf(reason), message);
    this.reason = reason;
  }
}

function codeOf(reason: SocketIoPacketProblem): ErrorCode {
  if (reason === 'too_large') return 'payload_too_large';
  if (reason === 'too_deep') return 'invalid_payload';
  return 'invalid_frame';
}
