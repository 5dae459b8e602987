import { createServer } from 'node:net';
import ssh2 from 'ssh2';
import type { AuthContext, Connection, ParsedKey } from 'ssh2';
import { isAccepted, type Credential } from './credentials.js';
import { debug, dropOnError, listen, type ListenOptions, type RunningServer } from './listen.js';

// ssh2 is CommonJS: its named exports are reachable through the default export only.
const { Server, utils } = ssh2;

/** Who may log in, and how. */
export type SshAuth =
  /** Password logins against a list, the way a device with a factory account does it. */
  | { kind: 'password'; credentials: readonly Credential[] }
  /** Public keys only: the password method is neither offered nor accepted. */
  | { kind: 'publickey'; authorizedKeys: readonly { username: string; publicKey: string }[] };

export interface SshOptions extends ListenOptions {
  auth: SshAuth;
  /** PEM or OpenSSH host private key. Default: a fresh ECDSA P-256 key, so each lab run has its own. */
  hostKey?: string;
  /** Software version in the SSH identification string (`SSH-2.0-<ident>`). */
  ident?: string;
  /** Written back to any `exec` request after a successful login. */
  execReply?: string;
}

/** A new ECDSA P-256 key pair in OpenSSH format: `private` for a server or client, `public` for authorized_keys. */
export function generateSshKeyPair(comment = 'iot-harness lab'): { private: string; public: string } {
  // ECDSA, not ed25519: ssh2's ed25519 generator now and then writes a key ssh2 cannot parse back
  // (3 in 600 here), which would make a lab device fail to start at random.
  return utils.generateKeyPairSync('ecdsa', { bits: 256, comment });
}

function parsePublicKey(text: string): ParsedKey {
  const key = utils.parseKey(text);
  if (key instanceof Error) throw new TypeError(`ssh: cannot parse authorized key: ${key.message}`, { cause: key });
  return key;
}

function authenticate(ctx: AuthContext, auth: SshAuth, keys: readonly { username: string; key: ParsedKey }[]): void {
  if (auth.kind === 'password') {
    if (ctx.method === 'password' && isAccepted(auth.credentials, ctx.username, ctx.password)) return ctx.accept();
    return ctx.reject(['password']);
  }
  if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
  const match = keys.find(
    ({ username, key }) => username === ctx.username && ctx.key.algo === key.type && ctx.key.data.equals(key.getPublicSSH()),
  );
  if (!match) return ctx.reject(['publickey']);
  // Without a signature the client is only asking whether this key would do; answering yes is the
  // protocol (RFC 4252 7), and the login itself still needs the signature checked below.
  if (!ctx.signature) return ctx.accept();
  if (ctx.blob && match.key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
  return ctx.reject(['publickey']);
}

function onReady(client: Connection, options: SshOptions): void {
  client.on('session', (accept) => {
    const session = accept();
    session.on('exec', (acceptExec, _reject, info) => {
      const stream = acceptExec();
      debug('ssh: exec %j', info.command);
      stream.write(options.execReply ?? 'lab device: command accepted, nothing was run\n');
      stream.exit(0);
      stream.end();
    });
    session.on('shell', (acceptShell) => {
      const stream = acceptShell();
      stream.write('lab device: no interactive shell\r\n');
      stream.exit(0);
      stream.end();
    });
    session.on('pty', (acceptPty) => acceptPty());
  });
}

/**
 * An SSH server (ssh2) that authenticates and answers `exec` harmlessly. The TCP listener is ours
 * and hands sockets to ssh2, so the shared `listen()` tracks them and `close()` can drop them.
 */
export function startSshServer(options: SshOptions): Promise<RunningServer> {
  const keys = options.auth.kind === 'publickey' ? options.auth.authorizedKeys.map((k) => ({ username: k.username, key: parsePublicKey(k.publicKey) })) : [];
  const ssh = new Server(
    { hostKeys: [options.hostKey ?? generateSshKeyPair().private], ...(options.ident ? { ident: options.ident } : {}) },
    (client) => {
      client.on('authentication', (ctx) => authenticate(ctx, options.auth, keys));
      client.on('ready', () => onReady(client, options));
      // A client that disconnects mid-handshake is routine for a scanned device.
      client.on('error', (err: Error) => debug('ssh: client: %s', err.message));
    },
  );
  const server = createServer((socket) => {
    dropOnError(socket, 'ssh');
    ssh.injectSocket(socket);
  });
  return listen(server, options);
}
