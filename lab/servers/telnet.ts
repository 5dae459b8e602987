import { createServer, type Socket } from 'node:net';
import { isAccepted, type Credential } from './credentials.js';
import { dropOnError, listen, type ListenOptions, type RunningServer } from './listen.js';

export interface TelnetOptions extends ListenOptions {
  /** Accounts that get a shell. Busybox cameras ship with these baked into /etc/passwd. */
  credentials: readonly Credential[];
  /** Shown before the login prompt as `<hostname> login: `. Default: `IPCam`. */
  hostname?: string;
  /** Printed for `uname -a`. */
  uname?: string;
  /** Failed logins before the connection is closed, as busybox login does. Default: 3. */
  maxFailures?: number;
  /** Longest accepted input line; a client that sends more is dropped. Default: 256 bytes. */
  maxLineLength?: number;
  /** An idle session is dropped after this long. Default: 60 s. */
  idleTimeoutMs?: number;
}

// Telnet command bytes (RFC 854) and the options a busybox telnetd negotiates.
const IAC = 255;
const DONT = 254;
const DO = 253;
const WILL = 251;
const SB = 250;
const SE = 240;
const OPT_ECHO = 1;
const OPT_SGA = 3;
const OPT_NAWS = 31;

/**
 * Busybox telnetd opens with these: the server echoes and suppresses go-ahead (character mode) and
 * asks for the window size. A client that sends raw text without answering must still get through.
 */
const NEGOTIATION = Buffer.from([IAC, WILL, OPT_ECHO, IAC, WILL, OPT_SGA, IAC, DO, OPT_NAWS]);

type State = 'username' | 'password' | 'shell';

/**
 * Strips telnet commands from the client's bytes. Keeps its state between chunks, since a
 * negotiation can be split across TCP segments.
 */
class IacFilter {
  #mode: 'data' | 'iac' | 'option' | 'sub' | 'sub-iac' = 'data';

  filter(chunk: Buffer): Buffer {
    const out: number[] = [];
    for (const byte of chunk) {
      switch (this.#mode) {
        case 'data':
          if (byte === IAC) this.#mode = 'iac';
          else out.push(byte);
          break;
        case 'iac':
          if (byte === IAC) {
            out.push(IAC); // IAC IAC is an escaped 0xff data byte
            this.#mode = 'data';
          } else if (byte === SB) this.#mode = 'sub';
          else if (byte >= WILL && byte <= DONT) this.#mode = 'option';
          else this.#mode = 'data'; // two-byte command (NOP, AYT, ...)
          break;
        case 'option':
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
    return Buffer.from(out);
  }
}

/**
 * One telnet session: login prompt, password, then a pretend root shell. Input is handled one
 * line at a time, and a line is capped: a flooding client is dropped, not buffered.
 */
class TelnetSession {
  #state: State = 'username';
  #line: number[] = [];
  #lastWasCr = false;
  #username = '';
  #failures = 0;
  readonly #iac = new IacFilter();

  constructor(
    readonly socket: Socket,
    readonly options: TelnetOptions,
  ) {}

  start(): void {
    this.socket.write(NEGOTIATION);
    this.socket.write(`\r\n${this.#hostname} login: `);
  }

  get #hostname(): string {
    return this.options.hostname ?? 'IPCam';
  }

  receive(chunk: Buffer): void {
    // After the third failure the server has said goodbye; whatever else arrives is not read.
    if (!this.socket.writable) return;
    const maxLine = this.options.maxLineLength ?? 256;
    for (const byte of this.#iac.filter(chunk)) {
      // CR LF, CR NUL and a bare LF all end a line (RFC 854 allows the first two; netcat sends the third).
      if (byte === 0x0a && this.#lastWasCr) {
        this.#lastWasCr = false;
        continue;
      }
      this.#lastWasCr = byte === 0x0d;
      if (byte === 0x0d || byte === 0x0a) {
        const line = Buffer.from(this.#line).toString('latin1');
        this.#line = [];
        this.#onLine(line);
        if (this.socket.destroyed || !this.socket.writable) return;
      } else if (byte !== 0) {
        this.#line.push(byte);
        if (this.#line.length > maxLine) {
          this.socket.destroy();
          return;
        }
      }
    }
  }

  #onLine(line: string): void {
    switch (this.#state) {
      case 'username':
        // The server said WILL ECHO, so it, not the client, shows what was typed.
        this.socket.write(`${line}\r\n`);
        if (line === '') {
          this.socket.write(`${this.#hostname} login: `);
          return;
        }
        this.#username = line;
        this.#state = 'password';
        this.socket.write('Password: ');
        return;
      case 'password':
        this.socket.write('\r\n');
        this.#checkLogin(line);
        return;
      case 'shell':
        this.socket.write(`${line}\r\n`);
        this.#runCommand(line.trim());
        return;
    }
  }

  #checkLogin(password: string): void {
    const ok = isAccepted(this.options.credentials, this.#username, password);
    if (ok) {
      this.#state = 'shell';
      this.socket.write(`\r\n\r\nBusyBox v1.20.2 (2016-03-15 10:41:12 CST) built-in shell (ash)\r\nEnter 'help' for a list of built-in commands.\r\n\r\n# `);
      return;
    }
    this.#failures++;
    if (this.#failures >= (this.options.maxFailures ?? 3)) {
      this.socket.end('Login incorrect\r\n');
      return;
    }
    this.#state = 'username';
    this.socket.write(`Login incorrect\r\n${this.#hostname} login: `);
  }

  #runCommand(command: string): void {
    if (command === 'exit' || command === 'logout') {
      this.socket.end();
      return;
    }
    const output: Record<string, string> = {
      '': '',
      id: 'uid=0(root) gid=0(root)\r\n',
      'uname -a': `${this.options.uname ?? `Linux ${this.#hostname} 3.10.14 #1 PREEMPT Tue Mar 15 10:37:42 CST 2016 armv7l GNU/Linux`}\r\n`,
      whoami: 'root\r\n',
    };
    const name = command.split(/\s+/)[0] ?? command;
    // busybox ash's echo builtin: what a scanner types to prove it really has a shell.
    if (name === 'echo') output[command] = `${command.slice(5).replace(/^(['"])(.*)\1$/, '$2')}\r\n`;
    this.socket.write(`${output[command] ?? `-sh: ${name}: not found\r\n`}# `);
  }
}

/** A busybox-style telnetd: the service Mirai logs into with factory passwords. */
export function startTelnetServer(options: TelnetOptions): Promise<RunningServer> {
  const server = createServer((socket) => {
    dropOnError(socket, 'telnet');
    socket.setTimeout(options.idleTimeoutMs ?? 60_000, () => socket.destroy());
    const session = new TelnetSession(socket, options);
    socket.on('data', (chunk: Buffer) => session.receive(chunk));
    session.start();
  });
  return listen(server, options);
}
