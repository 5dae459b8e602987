// Real SSH peer: dropbear, the server most embedded Linux devices ship.
// dropbear checks passwords against the system's accounts and we create none, so a *successful* password
// login is out of reach here (run as root it would take root's real password). This peer is for banners,
// key exchange and host-key algorithms, and "password logins offered" versus "publickey only".
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { inTempDir, requireBinary, startDaemon, tcpConnects, type Daemon } from './daemon.js';

export interface DropbearOptions {
  host: string;
  port: number;
  /** Accept password logins (default true). False passes `-s`: publickey only. */
  allowPasswords?: boolean;
  /** Refuse root logins (`-w`). */
  denyRoot?: boolean;
  /** Text shown before login (`-b`), e.g. a legal banner. */
  banner?: string;
  readyTimeoutMs?: number;
}

export interface DropbearPeer extends Daemon {
  host: string;
  port: number;
  /** `ssh-ed25519 AAAA...` line of the host key, for known_hosts or fingerprint checks. */
  hostPublicKey: string;
}

export async function startDropbear(options: DropbearOptions): Promise<DropbearPeer> {
  const dropbear = requireBinary('dropbear', 'dropbear-bin');
  const dropbearkey = requireBinary('dropbearkey', 'dropbear-bin');
  const { host, port } = options;

  return inTempDir('dropbear', async (dir) => {
    const hostKey = join(dir, 'ed25519_host_key');
    const keygen = await execa(dropbearkey, ['-t', 'ed25519', '-f', hostKey]);
    const hostPublicKey = keygen.stdout.split('\n').find((line) => line.startsWith('ssh-ed25519 ')) ?? '';

    // -F foreground (the test owns the pid), -E log to stderr (no syslog here), -P keeps the pid file out
    // of /var/run, where parallel dropbears would overwrite each other's.
    const args = ['-F', '-E', '-r', hostKey, '-p', `${host}:${port}`, '-P', join(dir, 'dropbear.pid')];
    if (options.allowPasswords === false) args.push('-s');
    if (options.denyRoot) args.push('-w');
    if (options.banner !== undefined) {
      const bannerFile = join(dir, 'banner');
      await writeFile(bannerFile, options.banner);
      args.push('-b', bannerFile);
    }

    const daemon = await startDaemon({
      name: 'dropbear',
      file: dropbear,
      args,
      dir,
      ports: [{ host, port, transport: 'tcp' }],
      isReady: () => tcpConnects(host, port),
      readyTimeoutMs: options.readyTimeoutMs,
    });
    return { ...daemon, host, port, hostPublicKey };
  });
}

/** How one client connection ended before login, as dropbear's `-E` log tells it. */
export interface DropbearAuthExit {
  /** The username the client authenticated as; absent when it never sent a user name. */
  user?: string;
  /** Failed authentication requests dropbear counted on the connection (`none` is not counted). */
  fails: number;
  line: string;
}

/**
 * The `Exit before auth` lines of a dropbear log. dropbear counts every password request it refuses,
 * whatever the reason (wrong password, unknown user, password logins off with `-s`), so `fails` is the
 * server's own count of password attempts on that connection.
 */
export function authExits(log: string): DropbearAuthExit[] {
  const exits: DropbearAuthExit[] = [];
  for (const line of log.split('\n')) {
    if (!line.includes('Exit before auth')) continue;
    const counted = /\(user '([^']*)', (\d+) fails\)/.exec(line);
    exits.push(counted ? { user: counted[1], fails: Number(counted[2]), line } : { fails: 0, line });
  }
  return exits;
}

/** Connections dropbear accepted (`Child connection from ...`). */
export function connectionsLogged(log: string): number {
  return log.split('\n').filter((line) => line.includes('Child connection from')).length;
}
