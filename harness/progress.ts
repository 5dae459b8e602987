import type { ProgressEvent } from './run.js';

/**
 * One status line on a TTY (targets done/total, what runs now), rewritten in place and throttled;
 * nothing at all when the stream is piped, so logs and `--json` output stay clean.
 */
export class Progress {
  readonly #stream: NodeJS.WriteStream;
  readonly #enabled: boolean;
  #done = 0;
  #total = 0;
  #current = '';
  #last = 0;
  #shown = false;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream;
    this.#enabled = stream.isTTY === true;
  }

  handle = (event: ProgressEvent): void => {
    if (event.type === 'start') this.#total = event.total;
    else if (event.type === 'target') this.#current = `${event.target}: ${event.text}`;
    else {
      this.#done = event.done;
      this.#current = `${event.target}: done`;
    }
    this.#draw(event.type !== 'target');
  };

  #draw(force: boolean): void {
    if (!this.#enabled) return;
    const now = Date.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    const width = Math.max(20, (this.#stream.columns || 80) - 1);
    const line = `[${this.#done}/${this.#total} targets] ${this.#current}`.slice(0, width);
    this.#stream.write(`\r\x1b[K${line}`);
    this.#shown = true;
  }

  /** Clear the line before anything else is printed. */
  stop(): void {
    if (this.#enabled && this.#shown) this.#stream.write('\r\x1b[K');
    this.#shown = false;
  }
}
