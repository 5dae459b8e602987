// Shared plumbing for the real-peer helpers: find the binary, give each daemon a private temp dir, run it
// in the foreground as our child (so the test owns it and execa kills it if the worker dies), wait until
// it really answers, and on stop kill it, whatever it forked, and its files.
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { assertLoopback, assertPortAllowed, isBindable, type Transport } from './alias.js';

/** A peer cannot be used on this machine: its package is missing, or it did not start. */
export class PeerError extends Error {
  /** `E_PEER_MISSING` (install the package) or `E_PEER_START` (it ran but never became ready). */
  readonly code: 'E_PEER_MISSING' | 'E_PEER_START';

  constructor(code: PeerError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PeerError';
    this.code = code;
  }
}

/** A running daemon owned by the test. */
export interface Daemon {
  /** Process id of the foreground daemon. */
  readonly pid: number;
  /** Private temp dir with the daemon's config, keys and logs; removed by `stop()`. */
  readonly dir: string;
  /** The last output of the daemon (stdout and stderr interleaved, at most LOG_CAP bytes). */
  log(): string;
  /** Kills the daemon and everything it forked, then removes `dir`. Safe to call twice. */
  stop(): Promise<void>;
}

const LOG_CAP = 64 * 1024;
const POLL_MS = 25;
/** Daemons here start in well under a second; a loaded CI runner gets ten times that and more. */
export const DEFAULT_READY_MS = 15_000;

// Non-root PATHs (CI runners) often lack the sbin dirs where Debian puts dropbear, mosquitto, lighttpd.
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** Absolute path of `name`, or a PeerError that says how to install `pkg`. */
export function requireBinary(name: string, pkg: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory: keep looking through the others.
      continue;
    }
  }
  throw new PeerError('E_PEER_MISSING', `${name} not found: run \`npm run test:ci\` (scripts/install-peers.sh) to install ${pkg}`);
}

/** `path` when it exists (e.g. a loadable module), or a PeerError that says how to install `pkg`. */
export function requireFile(path: string, pkg: string): string {
  try {
    accessSync(path, constants.R_OK);
  } catch (error) {
    throw new PeerError('E_PEER_MISSING', `${path} not found: run \`npm run test:ci\` (scripts/install-peers.sh) to install ${pkg}`, {
      cause: error,
    });
  }
  return path;
}

/** A fresh private directory for one daemon's files. */
export function makeTempDir(peer: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `iot-harness-${peer}-`));
}

/**
 * Runs `fn` with a fresh temp dir and removes the dir if `fn` throws (a failed start leaves nothing).
 * On success the dir belongs to the returned daemon, whose stop() removes it.
 */
export async function inTempDir<T>(peer: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await makeTempDir(peer);
  try {
    return await fn(dir);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** True when a TCP connection to host:port is accepted within `timeoutMs`. */
export function tcpConnects(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => finish(false), timeoutMs);
    function finish(isOpen: boolean): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(isOpen);
    }
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** Pids of every live descendant of `pid` (Linux /proc; empty elsewhere). */
function descendants(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    // No /proc (not Linux): only the daemon itself can be killed.
    return [];
  }
  const children = new Map<number, number[]>();
  for (const entry of entries) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      // The process exited between readdir and read.
      continue;
    }
    // The command name (field 2) may contain spaces and parentheses: ppid is the 2nd field after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = children.get(queue.shift() as number) ?? [];
    found.push(...next);
    queue.push(...next);
  }
  return found;
}

/**
 * True while `pid` runs. A zombie counts as gone: once killed, a re-parented child waits for init to reap
 * it, which is not ours to hurry.
 */
export function isRunning(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    // Some other failure reading /proc: fall back to asking the kernel about the pid directly.
    try {
      process.kill(pid, 0);
      return true;
    } catch (killError) {
      if ((killError as NodeJS.ErrnoException).code === 'ESRCH') return false;
      throw killError;
    }
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** Waits (bounded) until none of `pids` runs; SIGKILL is asynchronous, and stop() promises they are gone. */
async function waitGone(pids: number[], timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isRunning)) {
    if (Date.now() > deadline) throw new Error(`processes ${pids.filter(isRunning).join(', ')} survived SIGKILL`);
    await sleep(POLL_MS);
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    // ESRCH: it already exited, which is what we wanted.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export interface StartOptions {
  /** Short peer name for messages, e.g. `dropbear`. */
  name: string;
  /** Absolute path of the executable (from requireBinary). */
  file: string;
  args: string[];
  /** The daemon's temp dir (from makeTempDir); it becomes the working directory. */
  dir: string;
  /**
   * Ports the daemon will bind. They are checked free before the spawn: otherwise a readiness check could
   * be answered by whatever already holds the port while our daemon fails to bind and exits.
   */
  ports: Array<{ host: string; port: number; transport: Transport }>;
  /** Resolves true once the daemon answers. Called repeatedly until the deadline. */
  isReady: () => Promise<boolean>;
  readyTimeoutMs?: number;
  env?: Record<string, string>;
}

/**
 * Spawns the daemon in the foreground and waits until `isReady` says it answers. If it exits first, or
 * the deadline passes, it is killed, its dir removed, and the error carries its output.
 */
export async function startDaemon(options: StartOptions): Promise<Daemon> {
  const { name, file, args, dir } = options;
  for (const { host, port, transport } of options.ports) {
    assertLoopback(host);
    assertPortAllowed(port);
    if (!(await isBindable(host, port, transport))) {
      throw new PeerError('E_PEER_START', `${name} cannot start: ${host}:${port} (${transport}) is already in use`);
    }
  }
  let output = '';
  const append = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-LOG_CAP);
  };

  const subprocess = execa(file, args, {
    cwd: dir,
    env: options.env,
    stdin: 'ignore',
    buffer: false,
    // The exit is observed through `exited` below; a killed daemon is not an error.
    reject: false,
    // execa sends SIGKILL if SIGTERM has not worked after this delay.
    forceKillAfterDelay: 3_000,
  });
  subprocess.stdout.on('data', append);
  subprocess.stderr.on('data', append);
  const exited = subprocess.then((result) => ({ code: result.exitCode, signal: result.signal, message: result.message }));
  let hasExited = false;
  const exitWatch = exited.then(() => {
    hasExited = true;
  });

  let isStopped = false;
  const daemon: Daemon = {
    pid: subprocess.pid ?? -1,
    dir,
    log: () => output,
    async stop() {
      if (isStopped) return;
      isStopped = true;
      // Collect forked children (dropbear sessions, telnet logins) before the parent dies and they get
      // re-parented out of reach.
      const forked = subprocess.pid === undefined ? [] : descendants(subprocess.pid);
      if (!hasExited) subprocess.kill('SIGTERM');
      await exitWatch;
      for (const pid of forked) killQuietly(pid, 'SIGKILL');
      await waitGone(forked);
      await rm(dir, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? DEFAULT_READY_MS);
  try {
    for (;;) {
      if (hasExited) {
        const how = await exited;
        throw new PeerError('E_PEER_START', `${name} exited before it was ready (${how.message})\n${output}`);
      }
      if (await options.isReady()) return daemon;
      if (Date.now() > deadline) {
        throw new PeerError('E_PEER_START', `${name} did not become ready in time\n${output}`);
      }
      await sleep(POLL_MS);
    }
  } catch (error) {
    await daemon.stop();
    throw error;
  }
}
