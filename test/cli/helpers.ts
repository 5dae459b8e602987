import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'iot-harness.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built CLI as a user would. CI=1 keeps progress off; the result is whatever the process did. */
export async function cli(args: readonly string[], options: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CliResult> {
  const r = await execa('node', [BIN, ...args], { reject: false, cwd: options.cwd ?? tmp('cli-cwd-'), timeout: options.timeoutMs ?? 60_000, env: { CI: '1', ...options.env } });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A TCP service that counts connections and optionally greets: a stand-in device whose only job is to be counted. */
export interface CountingServer {
  port: number;
  connections(): number;
  close(): Promise<void>;
}

export function countingServer(host: string, greeting?: string, port = 0): Promise<CountingServer> {
  let count = 0;
  const server: Server = createServer((socket) => {
    count++;
    socket.on('error', () => undefined);
    // Drain what clients send (an SSH ident, a login): an unread socket never sees the client's FIN,
    // and the server could not close.
    socket.resume();
    if (greeting !== undefined) socket.end(greeting);
    else socket.destroy();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address() as { port: number };
      resolve({
        port: addr.port,
        connections: () => count,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

/** The same stack-trace shape Node prints: what bad input must never show. */
export const STACK = /\n\s+at .+\(.*:\d+:\d+\)/;
