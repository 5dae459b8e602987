import { z } from 'zod';
import type { EvidenceInput } from '../harness/evidence.js';
import { type Credential, resolveCredentials } from './lib/credentials.js';
import { runBruteForceTrial } from './lib/bruteforce.js';
import { type AttemptResult, CredentialOptions, tryCredentials } from './lib/login.js';
import { type AuthReply, describeReply, SshConnection } from './lib/ssh-client.js';
import { defineProbe, type ProbeContext } from './types.js';

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

/** The run's signal, plus the one-attempt deadline. */
function deadlineSignal(ctx: ProbeContext<Settings>): AbortSignal {
  return AbortSignal.any([ctx.signal, AbortSignal.timeout(ctx.options.timeoutMs)]);
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
