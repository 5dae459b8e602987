// Real Redis peer: the queue behind agents (BullMQ), and a service some devices expose by mistake.
// Everything on the command line: no config file, no persistence, nothing written outside the temp dir.
import { inTempDir, requireBinary, startDaemon, tcpConnects, type Daemon } from './daemon.js';

export interface RedisOptions {
  host: string;
  port: number;
  /** Require AUTH with this password (`--requirepass`). */
  password?: string;
  readyTimeoutMs?: number;
}

export interface RedisPeer extends Daemon {
  host: string;
  port: number;
  /** `redis://[:password@]host:port` for clients such as ioredis. */
  url: string;
}

export async function startRedis(options: RedisOptions): Promise<RedisPeer> {
  const redisServer = requireBinary('redis-server', 'redis-server');
  const { host, port } = options;

  return inTempDir('redis', async (dir) => {
    const args = [
      '--bind', host,
      '--port', String(port),
      // No RDB snapshots and no AOF: a test broker keeps nothing.
      '--save', '',
      '--appendonly', 'no',
      '--dir', dir,
      '--daemonize', 'no',
      // Empty logfile: log to stdout, which startDaemon keeps for failure messages.
      '--logfile', '',
    ];
    if (options.password !== undefined) args.push('--requirepass', options.password);

    const daemon = await startDaemon({
      name: 'redis-server',
      file: redisServer,
      args,
      dir,
      ports: [{ host, port, transport: 'tcp' }],
      isReady: () => tcpConnects(host, port),
      readyTimeoutMs: options.readyTimeoutMs,
    });
    const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`;
    return { ...daemon, host, port, url: `redis://${auth}${host}:${port}` };
  });
}
