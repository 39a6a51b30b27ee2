// The one error the Redis emitter decoders (pickle, msgpack, JSON, and the
// message normaliser) throw. The bridge counts refusals by `reason` and never
// rethrows: a hostile or malformed message is dropped, never executed.
import { EventwireError, type ErrorCode } from '@eventwire/event-channel';

/** Why an emitter message was refused. Stable, lowercase: for metrics labels and tests. */
export type EmitterMessageProblem =
  | 'too_large'
  | 'truncated'
  | 'forbidden_opcode'
  | 'unknown_opcode'
  | 'unsupported_protocol'
  | 'stack_underflow'
  | 'mark_missing'
  | 'memo_missing'
  | 'memo_full'
  | 'too_deep'
  | 'too_many_values'
  | 'cycle'
  | 'int_too_large'
  | 'bad_number'
  | 'bad_string'
  | 'unhashable_key'
  | 'trailing_bytes'
  | 'unsupported_type'
  | 'not_json'
  | 'not_a_message'
  | 'unknown_method'
  | 'bad_field';

/** A Redis emitter message that cannot be accepted; `opcode` names the pickle opcode when one was refused. */
export class EmitterMessageError extends EventwireError {
  override readonly name = 'EmitterMessageError';
  readonly reason: EmitterMessageProblem;
  readonly opcode: string | undefined;

  constructor(reason: EmitterMessageProblem, message: string, opcode?: string) {
    super(codeOf(reason), message);
    this.reason = reason;
    this.opcode = opcode;
  }
}

function codeOf(reason: EmitterMessageProblem): ErrorCode {
  if (reason === 'too_large' || reason === 'too_many_values' || reason === 'memo_full') return 'payload_too_large';
  if (reason === 'unsupported_protocol') return 'unsupported_protocol';
  if (reason === 'too_deep' || reason === 'bad_number' || reason === 'int_too_large') return 'invalid_payload';
  return 'invalid_frame';
}
