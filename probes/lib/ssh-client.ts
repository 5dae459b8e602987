import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import ssh2 from 'ssh2';
import type { Algorithms, KeyboardInteractiveCallback, NextAuthHandler, Prompt } from 'ssh2';
import type { ProbeContext } from '../types.js';

// ssh2 is CommonJS: its named exports are reachable through the default export only.
const { Client } = ssh2;

/** What an SSH connection needs of a probe's context: the egress, the service, and the one-attempt deadline. */
export type SshContext = ProbeContext<{ timeoutMs: number }>;

/** Methods that take a password. A server that offers neither gets no password attempt (key-only). */
const PASSWORD_METHODS = ['password', 'keyboard-interactive'] as const;

/**
 * Old algorithms that embedded dropbear builds still negotiate. ssh2 supports them but does not offer
 * them by default: without them an old camera's SSH would look unreachable instead of tested.
 */
const ALGORITHMS: Algorithms = {
  kex: { append: ['diffie-hellman-group14-sha1', 'diffie-hellman-group-exchange-sha1', 'diffie-hellman-group1-sha1'], prepend: [], remove: [] },
  serverHostKey: { append: ['ssh-dss'], prepend: [], remove: [] },
  cipher: { append: ['aes128-cbc', 'aes192-cbc', 'aes256-cbc', '3des-cbc'], prepend: [], remove: [] },
  hmac: { append: ['hmac-md5', 'hmac-sha1-96', 'hmac-md5-96'], prepend: [], remove: [] },
};

/** What the server answered to one authentication request. */
export type AuthReply =
  | { kind: 'failure'; methods: string[]; partialSuccess: boolean }
  | { kind: 'success' }
  /** Disconnected, reset, timed out or aborted before it answered. */
  | { kind: 'closed'; detail: string };

/** Bytes kept while looking for the server's identification line. */
const IDENT_CAP = 4096;

/**
 * One SSH connection opened through the egress, driven one authentication request at a time: ssh2's
 * `authHandler` is called after every USERAUTH_FAILURE, and its `next` callback is kept until the
 * probe has the next password to send. Every request uses the connection's one username: dropbear
 * drops a client that changes usernames and OpenSSH refuses it.
 */
export class SshConnection {
  /** The server's identification line, e.g. `SSH-2.0-dropbear_2022.83`. */
  ident = '';
  /** Text the server sent before authentication (SSH_MSG_USERAUTH_BANNER). */
  banner: string | undefined;
  /** SHA-256 of the server's host key, base64 without padding (the form `ssh-keygen -l` prints). */
  hostKeySha256: string | undefined;
  /** Methods the server said may continue, from its last USERAUTH_FAILURE. */
  methods: string[] = [];
  /** Password attempts made on this connection. */
  attempts = 0;
  /** The connection is gone: closed by either side, or dropped after an unanswered request. */
  isClosed = false;
  /** Keyboard-interactive prompts the server showed on this connection. */
  readonly prompts: string[] = [];
  readonly #client = new Client();
  readonly #socket: Socket;
  #next: NextAuthHandler | undefined;
  #waiter: ((reply: AuthReply) => void) | undefined;
  #unclaimed: AuthReply | undefined;
  #closeDetail = 'connection closed';

  private constructor(
    readonly username: string,
    socket: Socket,
  ) {
    this.#socket = socket;
  }

  /** Connect, then ask for authentication with method `none`: the reply lists the methods the server offers. */
  static async open(ctx: SshContext, username: string, signal: AbortSignal): Promise<{ ok: true; conn: SshConnection; reply: AuthReply } | { ok: false; detail: string }> {
    const tcp = await ctx.net.connectTcp(ctx.target.ip, ctx.service.port, { timeoutMs: ctx.options.timeoutMs, signal });
    if (!tcp.ok) return { ok: false, detail: `${tcp.reason}: ${tcp.message}` };
    const conn = new SshConnection(username, tcp.socket);
    conn.#start();
    return { ok: true, conn, reply: await conn.#wait(signal) };
  }

  #start(): void {
    const socket = this.#socket;
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const line = /^SSH-[^\r\n]*/m.exec(head);
      if (line || head.length >= IDENT_CAP) {
        this.ident = line?.[0] ?? '';
        socket.off('data', onData);
      }
    };
    socket.on('data', onData);
    const client = this.#client;
    client.on('banner', (message) => {
      this.banner = message;
    });
    client.on('ready', () => this.#deliver({ kind: 'success' }));
    client.on('error', (err) => {
      this.#closeDetail = err.message;
    });
    client.on('close', () => {
      this.isClosed = true;
      this.#deliver({ kind: 'closed', detail: this.#closeDetail });
    });
    client.connect({
      sock: socket,
      username: this.username,
      // Our own deadline governs each request; ssh2's would end a connection kept open across attempts.
      readyTimeout: 0,
      algorithms: ALGORITHMS,
      // Host keys are not judged here; the fingerprint goes into the evidence.
      hostVerifier: (key: Buffer) => {
        this.hostKeySha256 = createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
        return true;
      },
      authHandler: (methodsLeft, partialSuccess, next) => {
        // ssh2 calls this first with no methods (before any request), then after every USERAUTH_FAILURE.
        if ((methodsLeft as string[] | null) === null) {
          next({ type: 'none', username: this.username });
          return;
        }
        this.#next = next;
        this.methods = [...methodsLeft];
        this.#deliver({ kind: 'failure', methods: [...methodsLeft], partialSuccess: partialSuccess === true });
      },
    });
  }

  #deliver(reply: AuthReply): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter) waiter(reply);
    else this.#unclaimed ??= reply;
  }

  #wait(signal: AbortSignal): Promise<AuthReply> {
    const early = this.#unclaimed;
    this.#unclaimed = undefined;
    if (early) return Promise.resolve(early);
    if (this.isClosed) return Promise.resolve({ kind: 'closed', detail: this.#closeDetail });
    return new Promise((resolve) => {
      const onAbort = (): void => {
        this.#waiter = undefined;
        // A request the server never answered leaves the connection in an unknown state: drop it.
        this.close();
        resolve({ kind: 'closed', detail: signal.reason instanceof Error && signal.reason.name === 'TimeoutError' ? 'timeout: no answer before the attempt deadline' : 'aborted' });
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiter = (reply) => {
        signal.removeEventListener('abort', onAbort);
        resolve(reply);
      };
    });
  }

  /** The password method this server takes: `password` when offered, else `keyboard-interactive`. */
  get passwordMethod(): (typeof PASSWORD_METHODS)[number] | undefined {
    return PASSWORD_METHODS.find((m) => this.methods.includes(m));
  }

  /** Send one password (or keyboard-interactive answers) and wait for the server's verdict. */
  tryPassword(password: string, signal: AbortSignal): Promise<AuthReply> {
    const next = this.#next;
    const method = this.passwordMethod;
    if (this.isClosed || !next || !method) return Promise.resolve({ kind: 'closed', detail: this.isClosed ? this.#closeDetail : 'no password method left on this connection' });
    this.#next = undefined;
    this.attempts++;
    const reply = this.#wait(signal);
    if (method === 'password') next({ type: 'password', username: this.username, password });
    else {
      next({
        type: 'keyboard-interactive',
        username: this.username,
        // Every prompt gets the password: devices ask one "Password:" question this way.
        prompt: (_name: string, _instructions: string, _lang: string, prompts: Prompt[], finish: KeyboardInteractiveCallback) => {
          this.prompts.push(...prompts.map((p) => p.prompt));
          finish(prompts.map(() => password));
        },
      });
    }
    return reply;
  }

  /** Leave politely (SSH_MSG_DISCONNECT), and make sure the socket goes even if the server never closes. */
  close(): void {
    const socket = this.#socket;
    if (socket.destroyed) return;
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    // ssh2's end() sends the DISCONNECT and half-closes; the socket goes once that is flushed.
    socket.once('finish', () => socket.destroy());
    this.#client.end();
  }
}

/** A reply as one line of evidence, in the protocol's own message names. */
export function describeReply(reply: AuthReply): string {
  if (reply.kind === 'success') return 'SSH_MSG_USERAUTH_SUCCESS';
  if (reply.kind === 'failure') return `SSH_MSG_USERAUTH_FAILURE methods=${reply.methods.join(',') || '(none)'} partial=${String(reply.partialSuccess)}`;
  return `no answer: ${reply.detail}`;
}
