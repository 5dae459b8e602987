// Real MQTT peer: Eclipse mosquitto 2.0 (Debian 12: 2.0.11), with any mix of anonymous, password and TLS
// listeners on one loopback alias, so a single broker can show both a conformant and a weak port.
import { writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { allocHost, freePort } from './alias.js';
import { writeCert, type CertFiles, type PeerCertOptions } from './certs.js';
import { inTempDir, requireBinary, startDaemon, tcpConnects, type Daemon } from './daemon.js';

export interface MqttUser {
  username: string;
  password: string;
}

export interface MosquittoListener {
  port: number;
  /** Accounts for this listener (a mosquitto_passwd file). Empty: no password file. */
  users?: MqttUser[];
  /** Default: true when the listener has no users, else false. */
  allowAnonymous?: boolean;
  /** TLS on this listener with the broker's generated certificate. */
  tls?: boolean;
  /**
   * Lines of an acl_file for this listener (`user hub`, `topic read sensors/#`, ...). Without it every
   * client that gets in may read and write every topic. mosquitto 2.0 checks these when it delivers or
   * accepts a message, never at SUBSCRIBE: a subscription to `#` is granted and then filtered.
   */
  acl?: string[];
}

export interface MosquittoOptions {
  host: string;
  /** Shorthand for one anonymous plain listener; ignored when `listeners` is given. */
  port?: number;
  listeners?: MosquittoListener[];
  /** Certificate for TLS listeners (defaults: CA-issued RSA 2048 with the host's IP in the SAN). */
  cert?: PeerCertOptions;
  readyTimeoutMs?: number;
}

export interface MosquittoPeer extends Daemon {
  host: string;
  /** Port of the first listener. */
  port: number;
  listeners: MosquittoListener[];
  /** Present when some listener uses TLS; caPem/caFile verify the broker. */
  cert?: CertFiles;
}

async function writePasswordFile(mosquittoPasswd: string, file: string, users: MqttUser[]): Promise<void> {
  // -c creates the file with the first user; later users are appended to it.
  for (const [index, user] of users.entries()) {
    const args = index === 0 ? ['-b', '-c', file, user.username, user.password] : ['-b', file, user.username, user.password];
    await execa(mosquittoPasswd, args);
  }
}

export async function startMosquitto(options: MosquittoOptions): Promise<MosquittoPeer> {
  const mosquitto = requireBinary('mosquitto', 'mosquitto');
  const { host } = options;
  const listeners = options.listeners ?? (options.port === undefined ? [] : [{ port: options.port }]);
  const first = listeners[0];
  if (first === undefined) throw new Error('startMosquitto needs `port` or at least one listener');
  const hasUsers = listeners.some((l) => (l.users ?? []).length > 0);
  const mosquittoPasswd = hasUsers ? requireBinary('mosquitto_passwd', 'mosquitto') : '';

  return inTempDir('mosquitto', async (dir) => {
    const lines = [
      // Listeners differ in auth, so each carries its own allow_anonymous/password_file.
      'per_listener_settings true',
      'persistence false',
      'log_dest stdout',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
    ];
    // Started as root, mosquitto drops to the `mosquitto` user and then cannot read our 0700 temp dir;
    // naming the current user keeps it as it is. Not root: the option has no effect.
    if (process.getuid?.() === 0) lines.push(`user ${userInfo().username}`);

    let cert: CertFiles | undefined;
    if (listeners.some((l) => l.tls)) cert = await writeCert(dir, { ipAddresses: [host], ...options.cert });

    for (const [index, listener] of listeners.entries()) {
      const users = listener.users ?? [];
      // mosquitto 2.0 binds nothing implicitly and refuses anonymous clients unless told otherwise.
      lines.push('', `listener ${listener.port} ${host}`);
      lines.push(`allow_anonymous ${String(listener.allowAnonymous ?? users.length === 0)}`);
      if (users.length > 0) {
        const passwordFile = join(dir, `passwd-${index}`);
        await writePasswordFile(mosquittoPasswd, passwordFile, users);
        lines.push(`password_file ${passwordFile}`);
      }
      if (listener.acl) {
        const aclFile = join(dir, `acl-${index}`);
        await writeFile(aclFile, `${listener.acl.join('\n')}\n`);
        lines.push(`acl_file ${aclFile}`);
      }
      if (listener.tls && cert) {
        lines.push(`cafile ${cert.caFile}`, `certfile ${cert.certFile}`, `keyfile ${cert.keyFile}`);
      }
    }

    const confFile = join(dir, 'mosquitto.conf');
    await writeFile(confFile, `${lines.join('\n')}\n`);

    const daemon = await startDaemon({
      name: 'mosquitto',
      file: mosquitto,
      // No -d: mosquitto stays in the foreground.
      args: ['-c', confFile],
      dir,
      ports: listeners.map((l) => ({ host, port: l.port, transport: 'tcp' as const })),
      isReady: async () => {
        for (const listener of listeners) {
          if (!(await tcpConnects(host, listener.port))) return false;
        }
        return true;
      },
      readyTimeoutMs: options.readyTimeoutMs,
    });
    return { ...daemon, host, port: first.port, listeners, cert };
  });
}

/**
 * mosquitto on a fresh loopback alias with one free port per listener, in order: what most MQTT probe
 * tests start. The caller stops the returned peer.
 */
export async function mosquittoOnAlias(listeners: Omit<MosquittoListener, 'port'>[]): Promise<{ host: string; ports: number[]; peer: MosquittoPeer }> {
  const host = await allocHost([]);
  const ports: number[] = [];
  for (const _ of listeners) ports.push(await freePort(host));
  const peer = await startMosquitto({ host, listeners: listeners.map((l, i) => ({ ...l, port: ports[i] as number })) });
  return { host, ports, peer };
}

