import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { EvidenceInput } from '../harness/evidence.js';
import type { Credential } from './lib/credentials.js';
import { runBruteForceTrial } from './lib/bruteforce.js';
import { type AttemptResult, CredentialOptions, tryCredentials } from './lib/login.js';
import { failureIn, lastLine, lockoutIn, loginFailureIn, type PromptKind, promptAtEnd, TelnetSession } from './lib/telnet.js';
import { defineProbe, type ProbeContext } from './types.js';

const Options = CredentialOptions.extend({
  telnetReuseConnection: z.boolean().default(true).describe('try the next pair on the same connection while the device prompts again (busybox login allows 3 per connection)'),
  telnetSettleMs: z.number().int().min(0).max(5000).default(300).describe('quiet time a shell-like prompt must stand before it is trusted: a late "Login incorrect" or login prompt overrides it'),
});

type Settings = z.output<typeof Options>;

/** After a failure message, how long to wait for the login prompt to come back (so the connection can be reused). */
const REPROMPT_MS = 1500;
/** With nothing on screen this long after connecting, press Enter once: some devices wait for a line. */
const NUDGE_MS = 1500;
const PRESS_ENTER = /press (?:enter|return|any key)/i;
/**
 * A failure or lockout message on a finished line: the device has said its piece, a prompt may follow.
 * Not a reason to stop reading by itself: a MOTD after a good login can say "failed" or "locked" too.
 */
const SAID_NO = /(?:incorrect|invalid|denied|failed|failure|bad password|error|locked|lock-?out|too many|try again later)[^\n]*\n/i;

/** A deadline as remaining milliseconds. */
function clock(ms: number): () => number {
  const end = performance.now() + ms;
  return () => Math.max(0, Math.round(end - performance.now()));
}

/**
 * Read until the device shows a prompt. A shell or menu prompt must then stay quiet for `settleMs`: a
 * device that prints `#` and then, a moment later, `Login incorrect` has not granted a shell. After a
 * username or password (`isAnswer`), a refusal on a finished line shortens the wait for that prompt.
 */
async function waitForPrompt(s: TelnetSession, from: number, left: () => number, signal: AbortSignal, settleMs: number, isAnswer: boolean): Promise<PromptKind | undefined> {
  for (;;) {
    await s.read((t) => {
      const a = t.slice(from);
      return promptAtEnd(a) !== undefined || (isAnswer && SAID_NO.test(a));
    }, left(), signal);
    let after = s.text.slice(from);
    if (isAnswer && promptAtEnd(after) === undefined && SAID_NO.test(after) && !s.isClosed) {
      // Busybox shows the login prompt right after "Login incorrect": wait briefly for whatever prompt comes, not the whole deadline.
      await s.read((t) => promptAtEnd(t.slice(from)) !== undefined, Math.min(REPROMPT_MS, left()), signal);
      after = s.text.slice(from);
    }
    const kind = promptAtEnd(after);
    if ((kind !== 'shell' && kind !== 'menu') || settleMs === 0 || left() === 0 || s.isClosed) return kind;
    const length = s.text.length;
    await s.read((t) => t.length > length, Math.min(settleMs, left()), signal);
    if (s.text.length === length) return kind;
  }
}

type Confirmation = { granted: true; by: 'echo' | 'prompt' | 'menu' } | { granted: false; outcome: 'rejected' | 'unavailable'; detail: string };

/**
 * Is the shell-like prompt a real session? A shell runs `echo <token>` and prints the token on a line of
 * its own (the echoed command line reads `echo <token>`, so it cannot be mistaken for the output). A CLI
 * without echo answers with its prompt again. A login prompt or a login failure instead means no session.
 * A menu gets no input at all: an unknown key on a device menu may reboot it.
 */
async function confirmSession(s: TelnetSession, kind: 'shell' | 'menu', shown: string, left: () => number, signal: AbortSignal): Promise<Confirmation> {
  if (kind === 'menu') {
    const failure = loginFailureIn(shown);
    return failure ? { granted: false, outcome: 'rejected', detail: failure } : { granted: true, by: 'menu' };
  }
  const token = `iot${randomBytes(5).toString('hex')}`;
  const tokenLine = new RegExp(`(?:^|[\\r\\n])${token}[\\r\\n]`);
  const start = s.text.length;
  if (!(await s.sendLine(`echo ${token}`))) return { granted: false, outcome: 'unavailable', detail: 'closed after the shell-like prompt' };
  await s.read((t) => {
    const a = t.slice(start);
    const p = promptAtEnd(a);
    return tokenLine.test(a) || p === 'username' || p === 'password' || loginFailureIn(a) !== undefined || ((p === 'shell' || p === 'menu') && a.includes('\n'));
  }, left(), signal);
  const reply = s.text.slice(start);
  if (tokenLine.test(reply)) return { granted: true, by: 'echo' };
  const p = promptAtEnd(reply);
  const failure = loginFailureIn(reply) ?? (p === 'username' || p === 'password' ? `${p} prompt again` : undefined) ?? failureIn(shown);
  if (failure) return { granted: false, outcome: 'rejected', detail: failure };
  if (s.isClosed) return { granted: false, outcome: 'unavailable', detail: 'closed after the shell-like prompt, before answering a command' };
  return { granted: true, by: 'prompt' };
}

/** The device's answer without the echo of what we typed: a password like "blocked" is not a lockout. */
function withoutEcho(after: string, typed: string): string {
  const lead = /^[\r\n]*/.exec(after)?.[0].length ?? 0;
  return typed !== '' && after.startsWith(typed, lead) ? after.slice(lead + typed.length) : after;
}

/**
 * What the device's answer to a username or password means; undefined when it means nothing yet. A shell
 * or menu counts only once confirmed; a confirmed session wins over any word in a MOTD ("Last failed login").
 */
async function judge(s: TelnetSession, from: number, typed: string, next: PromptKind | undefined, when: string, left: () => number, signal: AbortSignal, evidence: (outcome: string, data?: Record<string, unknown>) => EvidenceInput): Promise<AttemptResult | undefined> {
  if (next === 'shell' || next === 'menu') {
    const c = await confirmSession(s, next, withoutEcho(s.text.slice(from), typed), left, signal);
    if (c.granted) {
      if (next === 'shell') await s.sendLine('exit');
      return { outcome: 'accepted', evidence: evidence(`accepted: ${next} ${when}, confirmed by ${c.by}`, { confirmedBy: c.by }) };
    }
    const lock = lockoutIn(withoutEcho(s.text.slice(from), typed));
    if (lock) return { outcome: 'locked', detail: lock, evidence: evidence(`locked: ${lock}`) };
    if (c.outcome === 'rejected') return { outcome: 'rejected', evidence: evidence(`rejected: ${c.detail}`) };
    return { outcome: 'unavailable', detail: c.detail, evidence: evidence(c.detail) };
  }
  const after = withoutEcho(s.text.slice(from), typed);
  const lock = lockoutIn(after);
  if (lock) return { outcome: 'locked', detail: lock, evidence: evidence(`locked: ${lock}`) };
  const failure = failureIn(after) ?? (next === 'username' || next === 'password' ? `${next} prompt again` : undefined);
  if (failure) return { outcome: 'rejected', evidence: evidence(`rejected: "${failure}"`) };
  return undefined;
}

/** Where the session is after an open or an attempt. */
interface Ready {
  session: TelnetSession;
  prompt: PromptKind;
  /** The prompt line on screen, carried into the next evidence window. */
  carry: string;
}

type Greeting = { ok: true; ready: Ready } | { ok: false; detail: string; session?: TelnetSession; locked?: string };

async function connectAndGreet(ctx: ProbeContext<Settings>, left: () => number, signal: AbortSignal): Promise<Greeting> {
  const conn = await ctx.net.connectTcp(ctx.target.ip, ctx.service.port, { timeoutMs: Math.max(1, left()), signal });
  if (!conn.ok) return { ok: false, detail: `connection ${conn.reason} (${conn.code})` };
  const session = new TelnetSession(conn.socket);
  session.mark();
  await session.read((t) => promptAtEnd(t) !== undefined || PRESS_ENTER.test(t), Math.min(NUDGE_MS, left()), signal);
  if (promptAtEnd(session.text) === undefined && !session.isClosed && left() > 0 && (PRESS_ENTER.test(session.text) || session.text.trim() === '')) {
    // "Press ENTER to continue", or a device that stays silent until it gets a line.
    await session.sendLine('');
  }
  const prompt = await waitForPrompt(session, 0, left, signal, ctx.options.telnetSettleMs, false);
  if (!prompt) {
    const why = session.isClosed ? 'closed without a login prompt' : session.text.length ? 'no login prompt' : 'no answer';
    session.close();
    // A device that greets with "too many failed logins" and hangs up is locked, not merely silent.
    const locked = lockoutIn(session.text);
    return { ok: false, detail: locked ? `locked: ${locked}` : why, session, ...(locked ? { locked } : {}) };
  }
  return { ok: true, ready: { session, prompt, carry: lastLine(session.text) } };
}

export default defineProbe({
  meta: {
    id: 'telnet-login',
    title: 'Telnet default credentials',
    description:
      'Logs in to telnet with default credential lists (Mirai, vendor lists) and reports a login only when a shell or menu appears after the password and a harmless `echo` comes back; also reports telnet asking for credentials in cleartext, and a telnet that opens a shell without any.',
    protocols: ['telnet'],
    intrusive: true,
    budget: { maxAttempts: 500, timeoutMs: 5000 },
    options: Options,
  },

  async run(ctx) {
    const port = ctx.service.port;
    const base = { port, transport: 'tcp' as const };
    let live: Ready | undefined;
    let reportedCleartext = false;
    let reportedNone = false;
    let passwordOnly = false;
    /** Password-only prompts: a refused password is refused whoever's pair it came in. */
    const refused = new Map<string, number>();
    let attemptNo = 0;

    const reportCleartext = (ready: Ready): void => {
      if (reportedCleartext) return;
      reportedCleartext = true;
      const ev = ctx.record({ ...base, kind: 'exchange', summary: `telnet on tcp/${port} asks for ${ready.prompt === 'password' ? 'a password' : 'a username and password'} in cleartext`, sent: ready.session.sent, received: ready.session.received, data: { prompt: ready.carry } });
      ctx.observe('cleartext.auth', { protocol: 'telnet', port }, [ev]);
    };

    /** A shell with no credential asked: confirm it and report `auth.none` once. True when confirmed. */
    const reportNone = async (ready: Ready, left: () => number, signal: AbortSignal): Promise<boolean> => {
      const c = await confirmSession(ready.session, ready.prompt as 'shell' | 'menu', ready.session.text, left, signal);
      if (!c.granted || reportedNone) return c.granted;
      reportedNone = true;
      if (ready.prompt === 'shell') await ready.session.sendLine('exit');
      const ev = ctx.record({ ...base, kind: 'exchange', summary: `telnet on tcp/${port} opened a ${ready.prompt} without asking for credentials (confirmed by ${c.by})`, sent: ready.session.sent, received: ready.session.received, data: { confirmedBy: c.by } });
      ctx.observe('auth.none', { protocol: 'telnet', port }, [ev]);
      return true;
    };

    const first = await connectAndGreet(ctx, clock(ctx.options.timeoutMs), ctx.signal);
    if (first.ok && (first.ready.prompt === 'shell' || first.ready.prompt === 'menu')) {
      const isNone = await reportNone(first.ready, clock(ctx.options.timeoutMs), ctx.signal);
      first.ready.session.close();
      // No login to test: credentials would be typed into a shell.
      if (isNone) return;
    } else if (first.ok) {
      reportCleartext(first.ready);
      passwordOnly = first.ready.prompt === 'password';
      live = first.ready;
    }

    const attempt = async (cred: Credential, signal: AbortSignal): Promise<AttemptResult> => {
      attemptNo++;
      const left = clock(ctx.options.timeoutMs);
      const label = (): string => (passwordOnly ? `password "${cred.password}" (password-only prompt)` : `${cred.username}/${cred.password}`);
      const earlier = passwordOnly ? refused.get(cred.password) : undefined;
      if (earlier !== undefined) {
        return { outcome: 'rejected', evidence: { ...base, kind: 'note', summary: `telnet ${label()}: refused on attempt ${earlier}; the device asks for a password only, so it was not sent again` } };
      }

      for (let round = 0; round < 2; round++) {
        let ready = live;
        live = undefined;
        const isReused = ready !== undefined && ctx.options.telnetReuseConnection;
        if (ready && !isReused) ready.session.close();
        if (!ready || !isReused) {
          const g = await connectAndGreet(ctx, left, signal);
          if (!g.ok) {
            const evidence: EvidenceInput = { ...base, kind: 'exchange', summary: `telnet ${label()}: ${g.detail}`, ...(g.session ? { sent: g.session.sent, received: g.session.received } : {}) };
            return g.locked ? { outcome: 'locked', detail: g.locked, evidence } : { outcome: 'unavailable', detail: g.detail, evidence };
          }
          ready = g.ready;
          if (ready.prompt === 'shell' || ready.prompt === 'menu') {
            await reportNone(ready, left, signal);
            ready.session.close();
            return { outcome: 'unavailable', detail: 'the device opened a session without asking for credentials', evidence: { ...base, kind: 'exchange', summary: `telnet ${label()}: session without credentials`, sent: ready.session.sent, received: ready.session.received } };
          }
          reportCleartext(ready);
          if (ready.prompt === 'password') passwordOnly = true;
        } else ready.session.mark(ready.carry);
        const s = ready.session;
        s.attempts++;
        const evidence = (outcome: string, data: Record<string, unknown> = {}): EvidenceInput => ({
          ...base,
          kind: 'exchange',
          summary: `telnet ${label()}: ${outcome}`,
          sent: s.sent,
          received: s.received,
          data: { attemptOnConnection: s.attempts, ...data },
        });
        const done = (result: AttemptResult): AttemptResult => {
          const p = promptAtEnd(s.text);
          if (result.outcome === 'rejected' && !s.isClosed && (p === 'username' || p === 'password') && ctx.options.telnetReuseConnection) live = { session: s, prompt: p, carry: lastLine(s.text) };
          else s.close();
          return result;
        };

        if (ready.prompt === 'username') {
          const from = s.text.length;
          const next = (await s.sendLine(cred.username)) ? await waitForPrompt(s, from, left, signal, ctx.options.telnetSettleMs, true) : undefined;
          const after = s.text.slice(from);
          // A reused connection the device closed while idle: start again on a new one, once.
          if (isReused && s.isClosed && after.trim() === '' && round === 0) {
            s.close();
            continue;
          }
          if (next !== 'password') {
            // A shell straight after the username: the account has no password at all.
            const outcome = await judge(s, from, cred.username, next, 'after the username without a password prompt', left, signal, evidence);
            return done(outcome ?? { outcome: 'unavailable', detail: `no password prompt after the username (${s.isClosed ? 'closed' : 'timeout'})`, evidence: evidence('no password prompt after the username') });
          }
        }

        const from = s.text.length;
        const next = (await s.sendLine(cred.password)) ? await waitForPrompt(s, from, left, signal, ctx.options.telnetSettleMs, true) : undefined;
        const after = s.text.slice(from);
        if (isReused && ready.prompt === 'password' && s.isClosed && after.trim() === '' && round === 0) {
          s.close();
          continue;
        }
        let result = await judge(s, from, cred.password, next, 'after the password', left, signal, evidence);
        // It prompted, took the password and hung up without a shell: a refusal, if an impolite one.
        if (!result && s.isClosed) result = { outcome: 'rejected', evidence: evidence('rejected: closed after the password, with no failure message and no shell') };
        result ??= { outcome: 'unavailable', detail: 'no answer to the password before the deadline', evidence: evidence('no answer to the password before the deadline') };
        if (result.outcome === 'rejected' && passwordOnly) refused.set(cred.password, attemptNo);
        return done(result);
      }
      // Only reached when a reused connection was stale twice, which `round` prevents; kept for the type checker.
      return { outcome: 'unavailable', detail: 'connection closed', evidence: { ...base, kind: 'note', summary: `telnet ${label()}: connection closed` } };
    };

    try {
      await tryCredentials(ctx, 'telnet', attempt);
      await runBruteForceTrial(ctx, 'telnet', attempt);
    } finally {
      live?.session.close();
    }
  },
});
