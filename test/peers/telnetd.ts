// Real telnet peer: busybox telnetd, the server behind most default-credential botnets. busybox `login`
// cannot check Debian's yescrypt hashes and we create no system users, so telnetd's -l runs a fixture
// login program instead: same prompts and failure text as a camera's busybox login, accounts we choose.
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inTempDir, requireBinary, startDaemon, tcpConnects, type Daemon } from './daemon.js';

export interface TelnetUser {
  username: string;
  password: string;
}

export interface TelnetdOptions {
  host: string;
  port: number;
  /** Accounts the fixture login accepts. Required unless `noLogin`. */
  users?: TelnetUser[];
  /** Start a root shell without asking for credentials (the `auth.none` case). */
  noLogin?: boolean;
  /** Login attempts per connection before it closes (default 3, like busybox login). */
  attempts?: number;
  /** Text sent before the first prompt (telnetd's issue file). Default: nothing. */
  banner?: string;
  readyTimeoutMs?: number;
}

export interface TelnetdPeer extends Daemon {
  host: string;
  port: number;
  /** Prompt shown after a successful login. */
  shellPrompt: string;
}

const SHELL_PROMPT = '# ';

/** Single-quotes a value for /bin/sh. */
function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function loginScript(options: TelnetdOptions): string {
  const shell = `PS1=${shQuote(SHELL_PROMPT)} exec /bin/sh -i`;
  if (options.noLogin) return `#!/bin/sh\n${shell}\n`;
  const users = options.users ?? [];
  const matches = users.map((u) => `[ "$user" = ${shQuote(u.username)} ] && [ "$pass" = ${shQuote(u.password)} ]`);
  // With no accounts nothing matches: every login fails, like a device whose login is disabled.
  const condition = matches.length > 0 ? matches.join(' || ') : 'false';
  return [
    '#!/bin/sh',
    '# Fixture login for busybox telnetd (written by test/peers/telnetd.ts).',
    'n=0',
    `while [ "$n" -lt ${options.attempts ?? 3} ]; do`,
    '  n=$((n + 1))',
    "  printf 'login: '",
    '  IFS= read -r user || exit 1',
    // No echo of the password, as a real login does; the pty echoes everything else.
    '  stty -echo 2>/dev/null',
    "  printf 'Password: '",
    '  IFS= read -r pass || exit 1',
    '  stty echo 2>/dev/null',
    "  printf '\\n'",
    `  if ${condition}; then`,
    `    ${shell}`,
    '  fi',
    "  printf 'Login incorrect\\n'",
    'done',
    'exit 1',
    '',
  ].join('\n');
}

export async function startTelnetd(options: TelnetdOptions): Promise<TelnetdPeer> {
  const busybox = requireBinary('busybox', 'busybox-static');
  const { host, port } = options;
  if (!options.noLogin && options.users === undefined) {
    throw new Error('startTelnetd needs `users` (accepted logins) or `noLogin: true`');
  }

  return inTempDir('telnetd', async (dir) => {
    const login = join(dir, 'login.sh');
    await writeFile(login, loginScript(options));
    await chmod(login, 0o755);
    // Without -f telnetd would show the machine's /etc/issue.
    const issue = join(dir, 'issue');
    await writeFile(issue, options.banner ?? '');

    const daemon = await startDaemon({
      name: 'busybox telnetd',
      file: busybox,
      // -F foreground; -K closes the connection when login exits instead of waiting for stray pty holders.
      args: ['telnetd', '-F', '-K', '-p', String(port), '-b', host, '-l', login, '-f', issue],
      dir,
      ports: [{ host, port, transport: 'tcp' }],
      isReady: () => tcpConnects(host, port),
      readyTimeoutMs: options.readyTimeoutMs,
    });
    return { ...daemon, host, port, shellPrompt: SHELL_PROMPT };
  });
}
