// Real telnet peer: busybox telnetd, the server behind most default-credential botnets. busybox `login`
// cannot check Debian's yescrypt hashes and we create no system users, so telnetd's -l runs a fixture
// login program instead: same prompts and failure text as a camera's busybox login, accounts we choose.
import { chmod, readFile, writeFile } from 'node:fs/promises';
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
  /**
   * How the login asks. `login`: `login: ` then `Password: ` (busybox); `username`: `Username: `;
   * `user-name`: `User Name: `; `password-only`: `Password: ` alone, matched against every user's password.
   */
  prompt?: 'login' | 'username' | 'user-name' | 'password-only';
  /** Seconds the login sleeps before `Login incorrect`, as busybox login does (it sleeps 3). Default 0. */
  failDelaySeconds?: number;
  /**
   * After `after` failed logins in all, the device locks: `message` says "Too many failed login attempts"
   * on that failure and on every later connection; `silent` closes every later connection without a word.
   */
  lockout?: { after: number; mode: 'message' | 'silent' };
  /** What a login opens: a shell (default), or a numbered device menu. */
  session?: 'shell' | 'menu';
  /** Shell prompt. Default `# `. */
  shellPrompt?: string;
  /** Printed after a successful login, before the shell (a message of the day). */
  motd?: string;
  readyTimeoutMs?: number;
}

export interface TelnetdPeer extends Daemon {
  host: string;
  port: number;
  /** Prompt shown after a successful login. */
  shellPrompt: string;
  /** Every username/password pair the login checked, in order (password-only: username ''). */
  attempts(): Promise<TelnetUser[]>;
  /**
   * The pairs checked on each connection that reached the login program, one entry per connection in
   * the order telnetd accepted them (an empty entry: a connection that tried nothing, such as a port scan's).
   */
  attemptsByConnection(): Promise<TelnetUser[][]>;
}

const SHELL_PROMPT = '# ';

/** What the login program did, one line per event: `connect\tPID`, `attempt\tPID\tUSER\tPASS`. */
const EVENTS = 'events.log';

const PROMPTS = { login: 'login: ', username: 'Username: ', 'user-name': 'User Name: ', 'password-only': '' } as const;

/** Single-quotes a value for /bin/sh. */
function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** printf with the text as an argument, never as the format: banners may hold `%` and `\`. */
function say(text: string): string {
  return `printf '%s' ${shQuote(text)}`;
}

const MENU = [
  'while :; do',
  "  printf '\\n1) Status\\n2) Network\\n0) Logout\\nSelect: '",
  '  IFS= read -r choice || exit 0',
  '  case "$choice" in 0) exit 0 ;; 1) printf \'Uptime 3 days\\n\' ;; *) printf \'Unknown choice\\n\' ;; esac',
  'done',
].join('\n');

function loginScript(options: TelnetdOptions, dir: string): string {
  const prompt = options.shellPrompt ?? SHELL_PROMPT;
  const motd = options.motd === undefined ? '' : `${say(options.motd)}; `;
  const session = options.session === 'menu' ? `{ ${motd}${MENU}\n}; exit 0` : `${motd}PS1=${shQuote(prompt)} exec /bin/sh -i`;
  const events = shQuote(join(dir, EVENTS));
  const connected = `printf 'connect\\t%s\\n' "$$" >> ${events}`;
  if (options.noLogin) return `#!/bin/sh\n${connected}\n${session}\n`;
  const style = options.prompt ?? 'login';
  const users = options.users ?? [];
  const matches = users.map((u) =>
    style === 'password-only' ? `[ "$pass" = ${shQuote(u.password)} ]` : `[ "$user" = ${shQuote(u.username)} ] && [ "$pass" = ${shQuote(u.password)} ]`,
  );
  // With no accounts nothing matches: every login fails, like a device whose login is disabled.
  const condition = matches.length > 0 ? matches.join(' || ') : 'false';
  const failures = shQuote(join(dir, 'failures.log'));
  const lock = options.lockout;
  const lockMessage = "printf 'Too many failed login attempts: locked for 300 seconds\\n'";
  const locked = lock ? `[ -f ${failures} ] && [ "$(wc -l < ${failures})" -ge ${lock.after} ]` : 'false';
  return [
    '#!/bin/sh',
    '# Fixture login for busybox telnetd (written by test/peers/telnetd.ts).',
    connected,
    `if ${locked}; then`,
    lock?.mode === 'message' ? `  ${lockMessage}` : '  :',
    '  exit 1',
    'fi',
    'n=0',
    `while [ "$n" -lt ${options.attempts ?? 3} ]; do`,
    '  n=$((n + 1))',
    '  user=',
    style === 'password-only' ? '  :' : `  printf '%s' ${shQuote(PROMPTS[style])}\n  IFS= read -r user || exit 1`,
    // No echo of the password, as a real login does; the pty echoes everything else.
    '  stty -echo 2>/dev/null',
    "  printf 'Password: '",
    '  IFS= read -r pass || exit 1',
    '  stty echo 2>/dev/null',
    "  printf '\\n'",
    `  printf 'attempt\\t%s\\t%s\\t%s\\n' "$$" "$user" "$pass" >> ${events}`,
    `  if ${condition}; then`,
    `    ${session}`,
    '  fi',
    options.failDelaySeconds ? `  sleep ${options.failDelaySeconds}` : '  :',
    "  printf 'Login incorrect\\n'",
    `  echo . >> ${failures}`,
    `  if ${locked}; then`,
    lock?.mode === 'message' ? `    ${lockMessage}` : '    :',
    '    exit 1',
    '  fi',
    'done',
    'exit 1',
    '',
  ].join('\n');
}

async function readLines(file: string): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
  } catch (error) {
    // No line written yet: the file is created by the first login.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** The login program's events in the order they happened. */
async function events(dir: string): Promise<({ type: 'connect'; pid: string } | { type: 'attempt'; pid: string; user: TelnetUser })[]> {
  return (await readLines(join(dir, EVENTS))).map((line) => {
    // Passwords may hold tabs: the password is everything after the third one.
    const [type, pid = '', username = '', ...rest] = line.split('\t');
    return type === 'connect' ? { type, pid } : { type: 'attempt', pid, user: { username, password: rest.join('\t') } };
  });
}

async function byConnection(dir: string): Promise<TelnetUser[][]> {
  const sessions = new Map<string, TelnetUser[]>();
  for (const e of await events(dir)) {
    if (e.type === 'connect') sessions.set(e.pid, []);
    else sessions.get(e.pid)?.push(e.user);
  }
  // In accept order: telnetd forks the login program when it accepts a connection, so PIDs rise with
  // connections, while the program's first log line may come late on a loaded machine.
  return [...sessions.entries()].sort((a, b) => Number(a[0]) - Number(b[0])).map(([, attempts]) => attempts);
}

export async function startTelnetd(options: TelnetdOptions): Promise<TelnetdPeer> {
  const busybox = requireBinary('busybox', 'busybox-static');
  const { host, port } = options;
  if (!options.noLogin && options.users === undefined) {
    throw new Error('startTelnetd needs `users` (accepted logins) or `noLogin: true`');
  }

  return inTempDir('telnetd', async (dir) => {
    const login = join(dir, 'login.sh');
    await writeFile(login, loginScript(options, dir));
    await chmod(login, 0o755);
    // Without -f telnetd would show the machine's /etc/issue.
    const issue = join(dir, 'issue');
    await writeFile(issue, options.banner ?? '');

    const daemon = await startDaemon({
      name: 'busybox telnetd',
      file: busybox,
      // -F foreground. No -K: with it telnetd drops the connection the moment login exits, losing the
      // last "Login incorrect" still in the pty, which a real busybox device always delivers.
      args: ['telnetd', '-F', '-p', String(port), '-b', host, '-l', login, '-f', issue],
      dir,
      ports: [{ host, port, transport: 'tcp' }],
      isReady: () => tcpConnects(host, port),
      readyTimeoutMs: options.readyTimeoutMs,
    });
    return {
      ...daemon,
      host,
      port,
      shellPrompt: options.shellPrompt ?? SHELL_PROMPT,
      attempts: async () => (await events(dir)).flatMap((e) => (e.type === 'attempt' ? [e.user] : [])),
      attemptsByConnection: () => byConnection(dir),
    };
  });
}
