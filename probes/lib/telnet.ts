import type { Socket } from 'node:net';
import { readBounded, writeSafely, type ReadEnd } from '../../harness/io.js';

// Telnet command bytes (RFC 854) and the options a login client cares about.
const IAC = 255;
const DONT = 254;
const DO = 253;
const WONT = 252;
const WILL = 251;
const SB = 250;
const SE = 240;
const OPT_ECHO = 1;
const OPT_SGA = 3;

/**
 * Strips telnet commands from what a device sends and answers its negotiation. State survives between
 * chunks, since a command can be split across TCP segments. The policy is the smallest that gets a login
 * prompt from every telnetd seen: let the server echo and suppress go-ahead (busybox asks for both),
 * refuse everything else (terminal type, window size, linemode), and answer each request only when it
 * changes an option's state, so two refusing peers can never loop (RFC 854 §"option negotiation").
 */
export class TelnetDecoder {
  #mode: 'data' | 'iac' | 'option' | 'sub' | 'sub-iac' = 'data';
  #verb = 0;
  /** Options the server performs with our consent (it said WILL, we said DO). */
  readonly #remote = new Set<number>();
  /** Options we were asked for and refused, so a repeated request is not answered again. */
  readonly #refused = new Set<string>();

  /** Feed bytes from the device; returns the data bytes and the negotiation answers to send. */
  feed(chunk: Buffer): { data: Buffer; reply: Buffer } {
    const data: number[] = [];
    const reply: number[] = [];
    for (const byte of chunk) {
      switch (this.#mode) {
        case 'data':
          if (byte === IAC) this.#mode = 'iac';
          // NUL after CR is how telnet sends a bare carriage return: it carries no text.
          else if (byte !== 0) data.push(byte);
          break;
        case 'iac':
          if (byte === IAC) {
            data.push(IAC);
            this.#mode = 'data';
          } else if (byte === SB) this.#mode = 'sub';
          else if (byte >= WILL && byte <= DONT) {
            this.#verb = byte;
            this.#mode = 'option';
          } else this.#mode = 'data'; // NOP, GA, AYT...: two-byte commands with nothing to answer
          break;
        case 'option':
          reply.push(...this.#answer(this.#verb, byte));
          this.#mode = 'data';
          break;
        case 'sub':
          if (byte === IAC) this.#mode = 'sub-iac';
          break;
        case 'sub-iac':
          this.#mode = byte === SE ? 'data' : 'sub';
          break;
      }
    }
    return { data: Buffer.from(data), reply: Buffer.from(reply) };
  }

  #answer(verb: number, option: number): number[] {
    const key = `${verb}:${option}`;
    switch (verb) {
      case WILL:
        if (this.#remote.has(option)) return [];
        if (option === OPT_ECHO || option === OPT_SGA) {
          this.#remote.add(option);
          return [IAC, DO, option];
        }
        if (this.#refused.has(key)) return [];
        this.#refused.add(key);
        return [IAC, DONT, option];
      case WONT:
        if (!this.#remote.delete(option)) return [];
        return [IAC, DONT, option];
      case DO:
        // We perform nothing for the server: not echo, not terminal type, not window size.
        if (this.#refused.has(key)) return [];
        this.#refused.add(key);
        return [IAC, WONT, option];
      default:
        // DONT: we never agreed to perform anything, so there is nothing to confirm.
        return [];
    }
  }
}

/** A line as telnet sends it: CR LF at the end, a 0xff data byte doubled so it is not read as a command. */
export function encodeLine(text: string): Buffer {
  const raw = Buffer.from(`${text}\r\n`, 'utf8');
  const out: number[] = [];
  for (const b of raw) {
    out.push(b);
    if (b === IAC) out.push(IAC);
  }
  return Buffer.from(out);
}

/** What the device's output ends with: the state of the conversation as the device shows it. */
export type PromptKind = 'username' | 'password' | 'shell' | 'menu';

const USERNAME_PROMPT = /(?:login|user ?name|user)\s*:\s*$/i;
const PASSWORD_PROMPT = /(?:password|passwd|passcode|pass)\s*:\s*$/i;
// A shell or CLI prompt: `# `, `$ `, `root@cam:~# `, `Router>`, `[admin@x] > `. Short, on its own line.
const SHELL_PROMPT = /[#$>%]\s*$/;
const MENU_ITEM = /^\s*\[?[0-9]{1,2}[.)\]:-]\s+\S/;
const MENU_PROMPT = /[:>?]\s*$/;

/** The text after the last line break: where a prompt sits, waiting for input. */
export function lastLine(text: string): string {
  const cut = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
  return text.slice(cut + 1);
}

/**
 * The prompt the text ends with, if any. Only the unfinished last line counts: a banner line such as
 * `#### Cam-1 ####` or `$ fw 1.2 $` ends with a line break and is output, not a prompt waiting for input.
 */
export function promptAtEnd(text: string): PromptKind | undefined {
  const line = lastLine(text);
  if (line.trim() === '' || line.length > 160) return undefined;
  if (PASSWORD_PROMPT.test(line)) return 'password';
  if (USERNAME_PROMPT.test(line)) return 'username';
  if (SHELL_PROMPT.test(line)) return 'shell';
  if (MENU_PROMPT.test(line)) {
    const lines = text.split(/\r?\n|\r/).slice(-24, -1);
    if (lines.filter((l) => MENU_ITEM.test(l)).length >= 2) return 'menu';
  }
  return undefined;
}

/** Login failure text (busybox `Login incorrect`, vendor variants), matched without case. */
const FAILURE = /login incorrect|incorrect|invalid|denied|failed|failure|bad password|error/i;
/**
 * The failures that still mean "not logged in" once a prompt was seen. A CLI answers an unknown command
 * with `% Invalid input` or `Error: unknown command`: that is a logged-in CLI, not a refusal.
 */
const LOGIN_FAILURE = /login incorrect|incorrect (?:password|login|user)|(?:password|login) incorrect|bad password|access denied|permission denied|authentication fail|login fail|invalid (?:password|login|user|credentials)/i;
/** A device saying it stopped accepting logins. */
const LOCKOUT = /\b(?:locked|lock-?out|blocked)\b|too many|try again later/i;

export function failureIn(text: string): string | undefined {
  return FAILURE.exec(text)?.[0];
}

export function loginFailureIn(text: string): string | undefined {
  return LOGIN_FAILURE.exec(text)?.[0];
}

export function lockoutIn(text: string): string | undefined {
  const m = LOCKOUT.exec(text);
  if (!m) return undefined;
  // The whole line gives the reader the device's own words ("Too many failed logins, locked for 300 s").
  const start = Math.max(text.lastIndexOf('\n', m.index), text.lastIndexOf('\r', m.index)) + 1;
  const ends = [text.indexOf('\n', m.index), text.indexOf('\r', m.index)].filter((i) => i >= 0);
  return text.slice(start, ends.length ? Math.min(...ends) : undefined).trim().slice(0, 200);
}

/** Bytes kept per attempt window; a device that sends more is cut off (the read ends at the cap). */
export const WINDOW_CAP = 32 * 1024;

/**
 * One telnet connection as a login client sees it: bounded reads that answer negotiation as bytes
 * arrive, the text the device showed (commands stripped), and a window of raw bytes sent and received
 * since the last `mark()`, which is the evidence for one attempt.
 */
export class TelnetSession {
  readonly #socket: Socket;
  readonly #decoder = new TelnetDecoder();
  #sent: Buffer[] = [];
  #received: Buffer[] = [];
  #receivedBytes = 0;
  /** Text (latin1, one char per byte) received in this window. */
  text = '';
  /** The last read ended because the device closed or reset the connection. */
  isClosed = false;
  /** Attempts started on this connection. */
  attempts = 0;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** Start a new evidence window. `carry` is the prompt already on screen, kept as the window's start. */
  mark(carry = ''): void {
    this.#sent = [];
    this.#received = carry ? [Buffer.from(carry, 'latin1')] : [];
    this.#receivedBytes = carry.length;
    this.text = carry;
  }

  get sent(): Buffer {
    return Buffer.concat(this.#sent);
  }

  get received(): Buffer {
    return Buffer.concat(this.#received);
  }

  #ingest(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#received.push(chunk);
    this.#receivedBytes += chunk.length;
    const { data, reply } = this.#decoder.feed(chunk);
    this.text += data.toString('latin1');
    if (reply.length > 0 && !this.#socket.destroyed) {
      this.#sent.push(reply);
      // A negotiation answer lost to a reset shows up as the read's own `reset` end.
      this.#socket.write(reply);
    }
  }

  /**
   * Read until `until(text)` holds for the window's text, the deadline, the window cap, or the device
   * closing. Returns how the read ended; the text is in `this.text`.
   */
  async read(until: (text: string) => boolean, timeoutMs: number, signal: AbortSignal): Promise<ReadEnd> {
    if (until(this.text)) return 'matched';
    const room = WINDOW_CAP - this.#receivedBytes;
    if (room <= 0) return 'cap';
    if (this.isClosed) return 'closed';
    let seen = 0;
    const result = await readBounded(this.#socket, {
      maxBytes: room,
      timeoutMs: Math.max(1, timeoutMs),
      signal,
      until: (buf) => {
        this.#ingest(buf.subarray(seen));
        seen = buf.length;
        return until(this.text);
      },
    });
    // The chunk that hit the cap was kept but never shown to `until`.
    this.#ingest(result.data.subarray(seen));
    if (result.end === 'closed' || result.end === 'reset') this.isClosed = true;
    return result.end;
  }

  /** Send one line (CR LF). False when the device already closed the connection. */
  async sendLine(text: string): Promise<boolean> {
    const bytes = encodeLine(text);
    this.#sent.push(bytes);
    const w = await writeSafely(this.#socket, bytes);
    if (!w.ok) this.isClosed = true;
    return w.ok;
  }

  close(): void {
    this.#socket.destroy();
    this.isClosed = true;
  }
}
