import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readBounded, writeSafely } from '../../harness/io.js';
import { runHarness, type RunConfig } from '../../harness/run.js';
import { defineProbe } from '../../probes/types.js';
import { allocHost } from '../peers/alias.js';
import { startRedis, type RedisPeer } from '../peers/redis.js';
import { tmp } from '../cli/helpers.js';

/** A real probe module shape: asks redis for INFO server through the egress and reports what it saw. */
const redisInfo = defineProbe({
  meta: {
    id: 'redis-info',
    title: 'Redis server info',
    description: 'test probe',
    protocols: ['redis'],
    intrusive: false,
    budget: { maxAttempts: 1, timeoutMs: 1000 },
    options: z.strictObject({ section: z.string().default('server') }),
  },
  async run(ctx) {
    const conn = await ctx.net.connectTcp(ctx.target.ip, ctx.service.port, { timeoutMs: 1000, signal: ctx.signal });
    if (!conn.ok) {
      ctx.observe('redis.info', { port: ctx.service.port, reachable: false }, [{ kind: 'connect', summary: conn.message, port: ctx.service.port, transport: 'tcp' }]);
      return;
    }
    const sent = `INFO ${ctx.options.section}\r\n`;
    await writeSafely(conn.socket, sent);
    const read = await readBounded(conn.socket, { maxBytes: 4096, timeoutMs: 1000, until: (d) => d.includes('redis_version') && d.includes('\r\n\r\n') });
    conn.socket.destroy();
    const version = /redis_version:(\S+)/.exec(read.data.toString())?.[1];
    const ev = ctx.record({ kind: 'exchange', summary: `INFO ${ctx.options.section}`, port: ctx.service.port, transport: 'tcp', sent, received: read.data });
    ctx.observe('redis.info', { port: ctx.service.port, reachable: true, version }, [ev]);
  },
});

const broken = defineProbe({
  meta: { id: 'broken', title: 'Always throws', description: 'test probe', protocols: ['redis'], intrusive: false, budget: { maxAttempts: 1, timeoutMs: 1 }, options: z.strictObject({}) },
  run() {
    return Promise.reject(new Error('bug in the probe'));
  },
});

let redis: RedisPeer | undefined;
afterEach(async () => {
  await redis?.stop();
});

async function config(probes: RunConfig['probes']): Promise<RunConfig> {
  const host = await allocHost([16380]);
  redis = await startRedis({ host, port: 16380 });
  return {
    targets: [{ address: host, source: 'test' }],
    profiles: [],
    ports: { tcp: [16380], udp: [] },
    excludePorts: { tcp: [], udp: [] },
    concurrency: 1,
    scanner: 'builtin',
    timings: { connectMs: 1000, bannerMs: 300, probeMs: 800 },
    outDir: join(tmp('run-'), 'out'),
    ...(probes ? { probes } : {}),
  };
}

describe('probes in a run', () => {
  it('run on every service of their protocol, with validated options, and their observations cite evidence in the chain', async () => {
    const outcome = await runHarness(await config([redisInfo]));
    expect(outcome.exitCode).toBe(0);
    const t = outcome.report.targets[0];
    expect(t?.services).toEqual([{ port: 16380, transport: 'tcp', protocol: 'redis', tls: false }]);
    const info = t?.observations.find((o) => o.key === 'redis.info');
    expect(info).toMatchObject({ probe: 'redis-info', value: { port: 16380, reachable: true, version: expect.stringMatching(/^\d+\.\d+/) as unknown } });
    const evidence = readFileSync(join(outcome.outDir, 'evidence.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { id: string; probe: string; sent?: { text: string } });
    const cited = evidence.find((e) => e.id === info?.evidence[0]);
    expect(cited).toMatchObject({ probe: 'redis-info', sent: { text: 'INFO server\r\n' } });
  });

  it('a probe that throws is a run error (exit 3); the rest of the run completes', async () => {
    const outcome = await runHarness(await config([broken, redisInfo]));
    expect(outcome.exitCode).toBe(3);
    expect(outcome.report.errors).toEqual([{ code: 'E_PROBE', message: 'broken on tcp/16380: bug in the probe', target: expect.any(String) as unknown, probe: 'broken' }]);
    expect(outcome.report.targets[0]?.observations.some((o) => o.key === 'redis.info')).toBe(true);
    expect(outcome.report.targets[0]?.verdicts.length).toBeGreaterThan(0);
  });
});
