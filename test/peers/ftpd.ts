// Real FTP peer: pyftpdlib (Debian python3-pyftpdlib), a complete RFC 959 server, with virtual accounts
// so no system user is created. Cheap device FTP servers behave the same way on the wire: 220 greeting,
// 331 for any USER (RFC 2577), 230 or 530 after PASS, a pause before each 530, a cap on tries per
// connection. The small server script below only adds what a test must see: every PASS the server got,
// per connection, and an optional lockout after a number of failures.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inTempDir, requireFile, startDaemon, tcpConnects, type Daemon } from './daemon.js';

export interface FtpUser {
  username: string;
  password: string;
}

export interface FtpdOptions {
  host: string;
  port: number;
  /** Accounts with a password. Empty: nobody but (optionally) anonymous gets in. */
  users: FtpUser[];
  /** Anonymous login (any password), read-only. Default false. */
  anonymous?: boolean;
  /** The 220 greeting text; past 75 characters (or with line breaks) it is sent as a multi-line `220-` reply. */
  banner?: string;
  /** The 230 text; past 75 characters it is sent as a multi-line `230-` reply. */
  loginMessage?: string;
  /** Pause before each 530, in ms (pyftpdlib's default is 3000). Default 20. */
  failDelayMs?: number;
  /** Failed logins per connection before the server says "Disconnecting" and closes. Default 3. */
  attemptsPerConnection?: number;
  /** After this many failed logins in all, every PASS gets `421 Too many failed login attempts` and the connection closes. */
  lockoutAfter?: number;
  readyTimeoutMs?: number;
}

export interface FtpdPeer extends Daemon {
  host: string;
  port: number;
  /** Every PASS the server got, one entry per connection in order (an empty entry: a connection that sent none). */
  attemptsByConnection(): Promise<FtpUser[][]>;
}

const PYFTPDLIB = '/usr/lib/python3/dist-packages/pyftpdlib/__init__.py';
// Debian's interpreter, not whatever python3 comes first on PATH (pyenv shims lack Debian's modules).
const PYTHON = '/usr/bin/python3';

const SERVER = String.raw`
import itertools, json, sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

cfg = json.load(open(sys.argv[1]))
events = open(cfg['events'], 'a', buffering=1)
message = cfg.get('loginMessage') or 'Login successful.'
authorizer = DummyAuthorizer()
for u in cfg['users']:
    authorizer.add_user(u['username'], u['password'], cfg['home'], perm='elr', msg_login=message)
if cfg.get('anonymous'):
    authorizer.add_anonymous(cfg['home'], msg_login=message)
ids = itertools.count(1)
failures = [0]

def log(**event):
    events.write(json.dumps(event) + '\n')

class Handler(FTPHandler):
    def handle(self):
        # pyftpdlib goes multi-line only past 75 characters; a banner with line breaks needs it too.
        if '\r\n' not in self.banner:
            return FTPHandler.handle(self)
        self.on_connect()
        self.push('220-%s\r\n' % self.banner)
        self.respond('220 Ready.')

    def on_connect(self):
        self.conn_id = next(ids)
        log(event='connect', conn=self.conn_id)

    def ftp_PASS(self, line):
        if self.authenticated or not self.username:
            return FTPHandler.ftp_PASS(self, line)
        log(event='attempt', conn=self.conn_id, username=self.username, password=line)
        limit = cfg.get('lockoutAfter')
        if limit is not None and failures[0] >= limit:
            self.respond('421 Too many failed login attempts; locked out.')
            self.close_when_done()
            return
        return FTPHandler.ftp_PASS(self, line)

    def on_login_failed(self, username, password):
        failures[0] += 1

Handler.authorizer = authorizer
Handler.banner = cfg['banner']
Handler.auth_failed_timeout = cfg['failDelayMs'] / 1000.0
Handler.max_login_attempts = cfg['attemptsPerConnection']
FTPServer((cfg['host'], cfg['port']), Handler).serve_forever()
`;

export async function startFtpd(options: FtpdOptions): Promise<FtpdPeer> {
  requireFile(PYFTPDLIB, 'python3-pyftpdlib');
  const python = requireFile(PYTHON, 'python3-pyftpdlib');
  const { host, port } = options;
  return inTempDir('ftpd', async (dir) => {
    const events = join(dir, 'events.jsonl');
    const config = join(dir, 'config.json');
    await writeFile(join(dir, 'server.py'), SERVER);
    await writeFile(
      config,
      JSON.stringify({
        host,
        port,
        events,
        home: dir,
        users: options.users,
        anonymous: options.anonymous ?? false,
        banner: (options.banner ?? 'FTP server ready.').replace(/\r?\n/g, '\r\n'),
        loginMessage: options.loginMessage,
        failDelayMs: options.failDelayMs ?? 20,
        attemptsPerConnection: options.attemptsPerConnection ?? 3,
        lockoutAfter: options.lockoutAfter,
      }),
    );
    const daemon = await startDaemon({
      name: 'pyftpdlib',
      file: python,
      // -I: isolated from PYTHON* variables and user site dirs; Debian's dist-packages stay on the path.
      args: ['-I', join(dir, 'server.py'), config],
      dir,
      ports: [{ host, port, transport: 'tcp' }],
      isReady: () => tcpConnects(host, port),
      readyTimeoutMs: options.readyTimeoutMs,
    });
    return {
      ...daemon,
      host,
      port,
      attemptsByConnection: async () => {
        let text = '';
        try {
          text = await readFile(events, 'utf8');
        } catch (error) {
          // No connection yet: the server opens the file at start, so this is only a race with its start.
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
        const sessions = new Map<number, FtpUser[]>();
        for (const line of text.split('\n').filter(Boolean)) {
          const e = JSON.parse(line) as { event: string; conn: number; username?: string; password?: string };
          if (e.event === 'connect') sessions.set(e.conn, []);
          else sessions.get(e.conn)?.push({ username: e.username ?? '', password: e.password ?? '' });
        }
        return [...sessions.values()];
      },
    };
  });
}
