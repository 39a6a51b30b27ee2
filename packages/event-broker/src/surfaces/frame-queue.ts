/**
 * One client's frames, handled strictly in arrival order: a frame whose
 * handling waits (an async channel rule, a hook) holds back that client's
 * later frames, never anyone else's, so answers come back in the order their
 * requests went out. Frames that need no wait cost no promise. The frames
 * waiting are bounded: past `max` the client is flooding, and each further
 * frame is refused through `overflow` until the queue drains.
 */
export class FrameQueue<TFrame> {
  readonly #handle: (frame: TFrame) => Promise<unknown> | void;
  readonly #overflow: (frame: TFrame) => void;
  readonly #max: number;
  #busy = false;
  // Created on first use: most sessions never wait.
  #backlog: TFrame[] | undefined;

  constructor(handle: (frame: TFrame) => Promise<unknown> | void, overflow: (frame: TFrame) => void, max = 10_000) {
    this.#handle = handle;
    this.#overflow = overflow;
    this.#max = max;
  }

  push(frame: TFrame): void {
    if (this.#busy) {
      this.#backlog ??= [];
      if (this.#backlog.length >= this.#max) return this.#overflow(frame);
      this.#backlog.push(frame);
      return;
    }
    const pending = this.#handle(frame);
    if (!(pending instanceof Promise)) return;
    this.#busy = true;
    void pending.then(this.#resume, this.#resume);
  }

  /** Drops what waits (the connection is gone). */
  clear(): void {
    this.#backlog = undefined;
  }

  /** Works through frames that arrived while waiting; stops again at the next that waits. */
  readonly #resume = (): void => {
    while (this.#backlog && this.#backlog.length > 0) {
      const pending = this.#handle(this.#backlog.shift()!);
      if (pending instanceof Promise) return void pending.then(this.#resume, this.#resume);
    }
    this.#busy = false;
  };
}
