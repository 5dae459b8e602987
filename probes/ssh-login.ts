import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import ssh2 from 'ssh2';
import type { Algorithms, KeyboardInteractiveCallback, NextAuthHandler, Prompt } from 'ssh2';
import { z } from 'zod';
import type { EvidenceInput } from '../harness/evidence.js';
import { type Credential, resolveCredentials } from './lib/credentials.js';
import { runBruteForceTrial } from './lib/bruteforce.js';
import { type AttemptResult, CredentialOptions, tryCredentials } from './lib/login.js';
import { defineProbe, type ProbeContext } from './types.js';

// ssh2 is CommonJS: its named exports are reachable through the default export only.
const { Client } = ssh2;

const SshLoginOptions = CredentialOptions.extend({
  attemptsPerConnection: z
    .number()
    .int()
    .min(1)
    .max(20)
    .default(3)
    .describe('password attempts on one SSH connection before opening a fresh one; kept below the MaxAuthTries of OpenSSH (6) and dropbear (10) so the server never cuts an attempt short'),
});

type Settings = z.output<typeof SshLoginOptions>;

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
type AuthReply =
  | { kind: 'failure'; methods: string[]; partialSuccess: boolean }
  | { kind: 'success' }
  /** Disconnected, reset, timed out or aborted before it answered. */
  | { kind: 'closed'; detail: string };

/** Bytes kept while looking for the server's identification line. */
const IDENT_CAP = 4096;

/** The run's signal, plus the one-attempt deadline. */
function deadlineSignal(ctx: ProbeContext<Settings>): AbortSignal {
  return AbortSignal.any([ctx.signal, AbortSignal.timeout(ctx.options.timeoutMs)]);
}

/**
 * One SSH connection opened through the egress, driven one authentication request at a time: ssh2's
 * `authHandler` is called after every USERAUTH_FAILURE, and its `next` callback is kept until the
 * probe has the next password to send. Every request uses the connection's one username: dropbear
 * drops a client that changes usernames and OpenSSH refuses it.
 */
class SshConnection {
  /** The server's identification line, e.g. `SSH-2.0-dropbear_2022.83`. */
  ident = '';
  /** Text the server sent before authentication (SSH_MSG_USERAUTH_BANNER). */
  banner: string | undefined;
  hostKeySha256: string | undefined;
  /** Methods the server said may continue, from its last USERAUTH_FAILURE. */
  methods: string[] = [];
  /** Password attempts made on this connection. */
  attempts = 0;
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
  static async open(ctx: ProbeContext<Settings>, username: string, signal: AbortSignal): Promise<{ ok: true; conn: SshConnection; reply: AuthReply } | { ok: false; detail: string }> {
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

/** Attempts that share a username sit together, in list order, so one connection serves several of them. */
function groupByUsername(credentials: readonly Credential[]): Credential[] {
  const groups = new Map<string, Credential[]>();
  for (const c of credentials) {
    const group = groups.get(c.username) ?? [];
    group.push(c);
    groups.set(c.username, group);
  }
  return [...groups.values()].flat();
}

function describeReply(reply: AuthReply): string {
  if (reply.kind === 'success') return 'SSH_MSG_USERAUTH_SUCCESS';
  if (reply.kind === 'failure') return `SSH_MSG_USERAUTH_FAILURE methods=${reply.methods.join(',') || '(none)'} partial=${String(reply.partialSuccess)}`;
  return `no answer: ${reply.detail}`;
}

function exchange(ctx: ProbeContext<Settings>, conn: SshConnection, summary: string, sent: string, reply: AuthReply, data: Record<string, unknown> = {}): EvidenceInput {
  const received = [conn.ident, conn.banner === undefined ? undefined : `SSH_MSG_USERAUTH_BANNER ${JSON.stringify(conn.banner)}`, describeReply(reply)].filter((l) => l).join('\n');
  return {
    kind: 'exchange',
    summary,
    port: ctx.service.port,
    transport: 'tcp',
    sent,
    received,
    data: { ident: conn.ident, hostKeySha256: conn.hostKeySha256, ...(conn.banner === undefined ? {} : { banner: conn.banner }), ...data },
  };
}

function testedWithoutAttempts(ctx: ProbeContext<Settings>, stoppedBecause: string, evidence: string): void {
  ctx.observe(
    'credentials.tested',
    { protocol: 'ssh', port: ctx.service.port, lists: ctx.options.credentials, candidates: 0, attempted: 0, accepted: 0, rejected: 0, stoppedBecause, skippedDeclaredTestAccounts: 0, delayMs: ctx.options.delayMs },
    [evidence],
  );
}

export default defineProbe({
  meta: {
    id: 'ssh-login',
    title: 'SSH default passwords',
    description:
      'Asks the SSH server which authentication methods it offers (method "none"), then tries the default credential lists with the password or keyboard-interactive method, politely and a few per connection. A key-only server gets no password attempt.',
    protocols: ['ssh'],
    intrusive: true,
    budget: { maxAttempts: 500, timeoutMs: 5000 },
    options: SshLoginOptions,
  },
  async run(ctx) {
    const { options, service } = ctx;
    const port = service.port;
    const candidates = groupByUsername(resolveCredentials(options.credentials, 'ssh'));
    const firstUser = candidates[0]?.username ?? 'root';

    // 1. Which methods does the server offer? One `none` request, holding a login slot like any attempt.
    const release = await ctx.net.acquireLoginSlot(ctx.target.ip);
    let opened: Awaited<ReturnType<typeof SshConnection.open>>;
    try {
      opened = await SshConnection.open(ctx, firstUser, deadlineSignal(ctx));
    } finally {
      release();
    }
    const sentNone = `SSH_MSG_USERAUTH_REQUEST user=${JSON.stringify(firstUser)} service="ssh-connection" method="none"`;
    if (!opened.ok || opened.reply.kind === 'closed') {
      const detail = !opened.ok ? opened.detail : opened.reply.kind === 'closed' ? opened.reply.detail : '';
      const ev = ctx.record(
        opened.ok
          ? exchange(ctx, opened.conn, `ssh on tcp/${port}: no answer to the "none" authentication request: ${detail}`, sentNone, opened.reply)
          : { kind: 'connect', summary: `ssh on tcp/${port}: ${detail}`, port, transport: 'tcp' },
      );
      ctx.observe('auth.unavailable', { protocol: 'ssh', port, afterAttempts: 0, reason: detail }, [ev]);
      testedWithoutAttempts(ctx, 'unavailable', ev);
      return;
    }
    const first = opened.conn;
    const methods = opened.reply.kind === 'failure' ? opened.reply.methods : [];
    const isNoneAccepted = opened.reply.kind === 'success';
    const methodsEv = ctx.record(
      exchange(ctx, first, isNoneAccepted ? `ssh on tcp/${port}: method "none" accepted for "${firstUser}": no credential needed` : `ssh on tcp/${port}: offers ${methods.join(', ') || 'no method'}`, sentNone, opened.reply, { methods }),
    );
    ctx.observe('ssh.auth-methods', { port, methods: isNoneAccepted ? ['none'] : methods, banner: first.banner ?? null, ident: first.ident }, [methodsEv]);
    if (first.banner !== undefined) ctx.observe('ssh.banner', { port, text: first.banner }, [methodsEv]);

    if (isNoneAccepted) {
      first.close();
      ctx.observe('auth.none', { protocol: 'ssh', port }, [methodsEv]);
      testedWithoutAttempts(ctx, 'none-accepted', methodsEv);
      return;
    }
    if (!first.passwordMethod) {
      first.close();
      testedWithoutAttempts(ctx, 'key-only', methodsEv);
      return;
    }

    // 2. Passwords, reusing a connection while the username stays the same.
    let current: SshConnection | undefined = first;
    let connections = 1;
    const attempt = async (credential: Credential, signal: AbortSignal): Promise<AttemptResult> => {
      const sent = (conn: SshConnection): string =>
        `SSH_MSG_USERAUTH_REQUEST user=${JSON.stringify(credential.username)} service="ssh-connection" method="${conn.passwordMethod ?? 'password'}"`;
      // One retry on a fresh connection when a reused one closes under the attempt (a server's MaxAuthTries).
      for (let round = 0; round < 2; round++) {
        let conn = current;
        if (!conn || conn.isClosed || conn.username !== credential.username || !conn.passwordMethod || conn.attempts >= options.attemptsPerConnection) {
          conn?.close();
          current = undefined;
          const fresh = await SshConnection.open(ctx, credential.username, signal);
          if (!fresh.ok) return { outcome: 'unavailable', detail: fresh.detail, evidence: { kind: 'connect', summary: `ssh on tcp/${port}: ${fresh.detail}`, port, transport: 'tcp' } };
          connections++;
          conn = current = fresh.conn;
          const sentNoneNow = `SSH_MSG_USERAUTH_REQUEST user=${JSON.stringify(credential.username)} service="ssh-connection" method="none"`;
          if (fresh.reply.kind === 'closed') return { outcome: 'unavailable', detail: fresh.reply.detail, evidence: exchange(ctx, conn, `ssh on tcp/${port}: no answer before authentication: ${fresh.reply.detail}`, sentNoneNow, fresh.reply) };
          if (fresh.reply.kind === 'success') {
            conn.close();
            return { outcome: 'accepted', evidence: exchange(ctx, conn, `ssh on tcp/${port}: "${credential.username}" let in with method "none", no password asked`, sentNoneNow, fresh.reply, { connection: connections }) };
          }
          if (!conn.passwordMethod) {
            return { outcome: 'rejected', evidence: exchange(ctx, conn, `ssh on tcp/${port}: no password method offered for "${credential.username}"`, sentNoneNow, fresh.reply, { connection: connections }) };
          }
        }
        const method = conn.passwordMethod;
        const reply = await conn.tryPassword(credential.password, signal);
        const data = { method, connection: connections, attemptOnConnection: conn.attempts, ...(conn.prompts.length ? { prompts: conn.prompts } : {}) };
        const who = `"${credential.username}" (${method})`;
        if (reply.kind === 'success') {
          conn.close();
          current = undefined;
          return { outcome: 'accepted', evidence: exchange(ctx, conn, `ssh on tcp/${port}: login as ${who} accepted`, sent(conn), reply, data) };
        }
        if (reply.kind === 'failure') {
          // Partial success: the password was right and the server asks for a second factor. A default
          // password that opens the first door is still a default password that works.
          if (reply.partialSuccess) return { outcome: 'accepted', evidence: exchange(ctx, conn, `ssh on tcp/${port}: password for ${who} accepted as a first factor; server asks for ${reply.methods.join(', ')}`, sent(conn), reply, data) };
          return { outcome: 'rejected', evidence: exchange(ctx, conn, `ssh on tcp/${port}: login as ${who} rejected`, sent(conn), reply, data) };
        }
        if (round === 0 && conn.attempts > 1 && !signal.aborted) continue;
        return { outcome: 'unavailable', detail: reply.detail, evidence: exchange(ctx, conn, `ssh on tcp/${port}: no answer to the login as ${who}: ${reply.detail}`, sent(conn), reply, data) };
      }
      return { outcome: 'unavailable', detail: 'connection closed twice', evidence: { kind: 'note', summary: `ssh on tcp/${port}: connection closed twice during one attempt`, port, transport: 'tcp' } };
    };
    try {
      await tryCredentials(ctx, 'ssh', attempt, candidates);
      await runBruteForceTrial(ctx, 'ssh', attempt);
    } finally {
      current?.close();
    }
  },
});
