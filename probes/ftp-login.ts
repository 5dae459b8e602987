import type { Socket } from 'node:net';
import { z } from 'zod';
import type { EvidenceInput } from '../harness/evidence.js';
import { readBounded, writeSafely, type ReadEnd } from '../harness/io.js';
import { type Credential, resolveCredentials } from './lib/credentials.js';
import { runBruteForceTrial } from './lib/bruteforce.js';
import { type AttemptResult, CredentialOptions, tryCredentials } from './lib/login.js';
import { defineProbe, type ProbeContext } from './types.js';

const Options = CredentialOptions.extend({
  ftpAnonymous: z.boolean().default(true).describe('try anonymous first, with an empty password and with "anonymous@" (reported with source "ftp-anonymous")'),
});

type Settings = z.output<typeof Options>;

/** The pairs every FTP server is asked first: anonymous login as RFC 1635 describes it. */
const ANONYMOUS: readonly Credential[] = [
  { username: 'anonymous', password: '', source: 'ftp-anonymous' },
  { username: 'anonymous', password: 'anonymous@', source: 'ftp-anonymous' },
];

/** Bytes kept per reply, and per attempt's evidence window: a server that floods is cut off here. */
const REPLY_CAP = 16 * 1024;
/** How long to wait for the 221 after QUIT: politeness, not data. */
const QUIT_MS = 1000;

/** A server that says it stopped accepting logins; "421 Too many connections" is busy, not locked. */
const LOCKOUT = /\b(?:locked|lock-?out|blocked|banned)\b|too many (?:failed|failures|bad|invalid|login|logins|authentication|attempts|tries)|try again later/i;
/** A 530 to USER that means "not over cleartext" (vsftpd's ssl_enable with force_local_logins_ssl, and others). */
const NEEDS_TLS = /\b(?:tls|ssl|encrypt|secure)/i;

export interface FtpReply {
  code: number;
  /** Every line of the reply, codes included. */
  lines: string[];
}

/**
 * One complete reply at the start of `buf`, and what follows it. RFC 959 §4.2: a single line `123 text`,
 * or `123-text` ... up to a line starting `123 ` (lines between may start with anything).
 */
export function parseReply(buf: Buffer): { reply: FtpReply; rest: Buffer } | undefined {
  const text = buf.toString('latin1');
  const first = /^(\d{3})([ -])/.exec(text);
  let at = 0;
  const lines: string[] = [];
  for (;;) {
    const nl = text.indexOf('\n', at);
    if (nl < 0) return undefined;
    const line = text.slice(at, nl).replace(/\r$/, '');
    lines.push(line);
    at = nl + 1;
    // Not a reply at all (no code): one line is all there is to judge.
    if (!first) return { reply: { code: 0, lines }, rest: buf.subarray(at) };
    if (first[2] === ' ' || (lines.length > 1 && line.startsWith(`${first[1]} `))) return { reply: { code: Number(first[1]), lines }, rest: buf.subarray(at) };
  }
}

/** The FTP control connection for one or more attempts: bounded replies, and the bytes of the current window. */
class FtpControl {
  readonly #socket: Socket;
  #pending = Buffer.alloc(0);
  #sent: Buffer[] = [];
  #received: Buffer[] = [];
  isClosed = false;
  /** Attempts started on this connection. */
  attempts = 0;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  mark(): void {
    this.#sent = [];
    this.#received = [];
  }

  get sent(): Buffer {
    return Buffer.concat(this.#sent);
  }

  get received(): Buffer {
    return Buffer.concat(this.#received);
  }

  async reply(timeoutMs: number, signal: AbortSignal): Promise<FtpReply | { end: ReadEnd }> {
    const ready = parseReply(this.#pending);
    if (ready) {
      this.#pending = Buffer.from(ready.rest);
      return ready.reply;
    }
    if (this.isClosed) return { end: 'closed' };
    const room = REPLY_CAP - this.#pending.length;
    const read = await readBounded(this.#socket, { maxBytes: Math.max(1, room), timeoutMs: Math.max(1, timeoutMs), signal, until: (d) => parseReply(Buffer.concat([this.#pending, d])) !== undefined });
    this.#received.push(read.data);
    this.#pending = Buffer.concat([this.#pending, read.data]);
    if (read.end === 'closed' || read.end === 'reset') this.isClosed = true;
    const parsed = parseReply(this.#pending);
    if (!parsed) return { end: read.end };
    this.#pending = Buffer.from(parsed.rest);
    return parsed.reply;
  }

  async command(line: string): Promise<boolean> {
    const bytes = Buffer.from(`${line}\r\n`, 'utf8');
    this.#sent.push(bytes);
    const w = await writeSafely(this.#socket, bytes);
    if (!w.ok) this.isClosed = true;
    return w.ok;
  }

  /** QUIT, wait briefly for the 221, close. */
  async quit(signal: AbortSignal): Promise<void> {
    if (!this.isClosed && (await this.command('QUIT'))) await this.reply(QUIT_MS, signal);
    this.close();
  }

  close(): void {
    this.#socket.destroy();
    this.isClosed = true;
  }
}

function clock(ms: number): () => number {
  const end = performance.now() + ms;
  return () => Math.max(0, Math.round(end - performance.now()));
}

const isReply = (r: FtpReply | { end: ReadEnd }): r is FtpReply => 'code' in r;
const show = (r: FtpReply): string => r.lines.join(' / ').slice(0, 200);

type Opened = { ok: true; control: FtpControl; greeting: FtpReply } | { ok: false; detail: string; control?: FtpControl; locked?: boolean };

async function open(ctx: ProbeContext<Settings>, left: () => number, signal: AbortSignal): Promise<Opened> {
  const conn = await ctx.net.connectTcp(ctx.target.ip, ctx.service.port, { timeoutMs: Math.max(1, left()), signal });
  if (!conn.ok) return { ok: false, detail: `connection ${conn.reason} (${conn.code})` };
  const control = new FtpControl(conn.socket);
  let greeting = await control.reply(left(), signal);
  // 120: "ready in a few minutes"; the 220 follows on the same connection.
  if (isReply(greeting) && greeting.code === 120) greeting = await control.reply(left(), signal);
  if (isReply(greeting) && greeting.code === 220) return { ok: true, control, greeting };
  control.close();
  if (!isReply(greeting)) return { ok: false, detail: `no greeting (${greeting.end})`, control };
  // "421 Too many failed logins from your address": locked before the first USER.
  return { ok: false, detail: `greeting ${show(greeting)}`, control, locked: LOCKOUT.test(show(greeting)) };
}

export default defineProbe({
  meta: {
    id: 'ftp-login',
    title: 'FTP default credentials and anonymous login',
    description: 'Logs in to FTP with anonymous and default credential lists (USER/PASS, 230 accepted, 530 refused) and reports that the server takes credentials in cleartext.',
    protocols: ['ftp'],
    intrusive: true,
    budget: { maxAttempts: 500, timeoutMs: 5000 },
    options: Options,
  },

  async run(ctx) {
    const port = ctx.service.port;
    const base = { port, transport: 'tcp' as const };
    let live: FtpControl | undefined;
    let reportedCleartext = false;

    const listed = resolveCredentials(ctx.options.credentials, 'ftp');
    const candidates = ctx.options.ftpAnonymous ? [...ANONYMOUS, ...listed.filter((c) => !ANONYMOUS.some((a) => a.username === c.username && a.password === c.password))] : listed;

    const attempt = async (cred: Credential, signal: AbortSignal): Promise<AttemptResult> => {
      const left = clock(ctx.options.timeoutMs);
      const label = `${cred.username}/${cred.password}`;
      for (let round = 0; round < 2; round++) {
        let control = live;
        live = undefined;
        const isReused = control !== undefined;
        let greeting: FtpReply | undefined;
        if (!control) {
          const o = await open(ctx, left, signal);
          if (!o.ok) {
            const evidence: EvidenceInput = { ...base, kind: 'exchange', summary: `ftp ${label}: ${o.detail}`, ...(o.control ? { sent: o.control.sent, received: o.control.received } : {}) };
            return o.locked ? { outcome: 'locked', detail: o.detail, evidence } : { outcome: 'unavailable', detail: o.detail, evidence };
          }
          control = o.control;
          greeting = o.greeting;
        } else control.mark();
        const c = control;
        c.attempts++;
        const evidence = (what: string, reply?: FtpReply): EvidenceInput => ({
          ...base,
          kind: 'exchange',
          summary: `ftp ${label}: ${what}`,
          sent: c.sent,
          received: c.received,
          data: { attemptOnConnection: c.attempts, ...(greeting ? { greeting: greeting.lines } : {}), ...(reply ? { code: reply.code, reply: reply.lines } : {}) },
        });
        const keep = (result: AttemptResult): AttemptResult => {
          if (result.outcome === 'rejected' && !c.isClosed) live = c;
          else c.close();
          return result;
        };
        const refused = (r: FtpReply, step: string): AttemptResult => {
          const lock = LOCKOUT.exec(show(r));
          if (lock) return { outcome: 'locked', detail: show(r), evidence: evidence(`locked at ${step}: ${show(r)}`, r) };
          // 4xx is "not now": a busy or failing server says nothing about the password.
          if (r.code >= 400 && r.code < 500) return { outcome: 'unavailable', detail: show(r), evidence: evidence(`${step}: ${show(r)}`, r) };
          return { outcome: 'rejected', evidence: evidence(`rejected at ${step}: ${show(r)}`, r) };
        };
        const silent = (end: ReadEnd, step: string): AttemptResult => ({ outcome: 'unavailable', detail: `no reply to ${step} (${end})`, evidence: evidence(`no reply to ${step} (${end})`) });

        const user = (await c.command(`USER ${cred.username}`)) ? await c.reply(left(), signal) : { end: 'closed' as const };
        if (!isReply(user)) {
          // A reused connection the server closed while idle (pyftpdlib after its third failure): once more on a new one.
          if (isReused && c.isClosed && round === 0) {
            c.close();
            continue;
          }
          return keep(silent(user.end, 'USER'));
        }
        if (user.code === 331 || user.code === 230) {
          if (!reportedCleartext) {
            reportedCleartext = true;
            const ev = ctx.record(evidence(`the server takes USER (${user.code}) over cleartext FTP`, user));
            ctx.observe('cleartext.auth', { protocol: 'ftp', port }, [ev]);
          }
        }
        if (user.code === 230) {
          const result: AttemptResult = { outcome: 'accepted', evidence: evidence(`accepted without a password: ${show(user)}`, user) };
          await c.quit(signal);
          return keep(result);
        }
        if (user.code !== 331) {
          const tls = user.code === 530 && NEEDS_TLS.test(show(user));
          return keep(refused(user, tls ? 'USER (the server wants TLS first)' : 'USER'));
        }

        const pass = (await c.command(`PASS ${cred.password}`)) ? await c.reply(left(), signal) : { end: 'closed' as const };
        if (!isReply(pass)) return keep(silent(pass.end, 'PASS'));
        // 202: "superfluous, already logged in" is a yes as well.
        if (pass.code === 230 || pass.code === 202) {
          const result: AttemptResult = { outcome: 'accepted', evidence: evidence(`accepted: ${show(pass)}`, pass) };
          await c.quit(signal);
          return keep(result);
        }
        return keep(refused(pass, 'PASS'));
      }
      return { outcome: 'unavailable', detail: 'connection closed', evidence: { ...base, kind: 'note', summary: `ftp ${label}: connection closed twice` } };
    };

    try {
      await tryCredentials(ctx, 'ftp', attempt, candidates);
      await runBruteForceTrial(ctx, 'ftp', attempt);
    } finally {
      if (live) await live.quit(ctx.signal);
    }
  },
});
