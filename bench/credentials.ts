/**
 * Default-credential benchmark (on demand: `npm run bench`). One simulated device with three login
 * services that accept none of the defaults (telnet, SSH, MQTT), so every pair of the Mirai list is
 * tried on each. Times, in the same run:
 *   - iot-harness: discovery + the login probes, at the DEFAULT politeness (100 ms between attempts,
 *     2 logins at once per device), with evidence for every attempt;
 *   - by hand: nmap -sV for the services, then hydra per login service (hydra has no MQTT module, so
 *     MQTT by hand is not even possible with it).
 * Prints both and the ratio. Loopback only; port 2024 is never touched.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { runHarness } from '../harness/run.js';
import type { RunningServer } from '../lab/servers/listen.js';
import { startMqttServer } from '../lab/servers/mqtt.js';
import { startSshServer } from '../lab/servers/ssh.js';
import { startTelnetServer } from '../lab/servers/telnet.js';
import { resolveCredentials } from '../probes/lib/credentials.js';

const HOST = '127.0.0.96';
const STRONG = [{ username: 'root', password: 'v9-Lab-unique-Q7' }];

async function main(): Promise<void> {
  const servers: RunningServer[] = [
    await startTelnetServer({ host: HOST, port: 2323, credentials: STRONG }),
    await startSshServer({ host: HOST, port: 2222, auth: { kind: 'password', credentials: STRONG } }),
    await startMqttServer({ host: HOST, port: 1884, credentials: STRONG }),
  ];
  const ports = servers.map((s) => s.port);
  const dir = mkdtempSync(join(tmpdir(), 'bench-creds-'));
  const pairs = resolveCredentials(['mirai']);
  try {
    const t0 = performance.now();
    const outcome = await runHarness({
      targets: [{ address: HOST, source: 'bench' }],
      profiles: ['etsi-en-303-645'],
      ports: { tcp: ports, udp: [] },
      excludePorts: { tcp: [2024], udp: [2024] },
      concurrency: 1,
      scanner: 'builtin',
      outDir: join(dir, 'run'),
      probeOptions: { credentials: ['mirai'] },
    });
    const oursMs = performance.now() - t0;
    const tested = outcome.report.targets[0]?.observations.filter((o) => o.key === 'credentials.tested').map((o) => `${String(o.value.protocol)}:${String(o.value.attempted)}`);
    console.log(`one device, 3 login services, ${pairs.length} Mirai pairs each, default politeness`);
    console.log(`  iot-harness run:       ${(oursMs / 1000).toFixed(1)} s  [attempts ${tested?.join(' ')}]`);

    const list = join(dir, 'pairs.txt');
    writeFileSync(list, pairs.map((p) => `${p.username}:${p.password}`).join('\n'));
    const t1 = performance.now();
    await execa('nmap', ['-sT', '-sV', '-Pn', '-n', '-p', ports.join(','), '--exclude-ports', '2024', HOST], { reject: false });
    const nmapMs = performance.now() - t1;
    const hydra = async (service: string, port: number): Promise<number> => {
      const t = performance.now();
      await execa('hydra', ['-I', '-t', '4', '-C', list, '-s', String(port), HOST, service], { reject: false, cwd: dir, timeout: 600_000 });
      return performance.now() - t;
    };
    const telnetMs = await hydra('telnet', ports[0] as number);
    const sshMs = await hydra('ssh', ports[1] as number);
    const byHand = nmapMs + telnetMs + sshMs;
    console.log(`  by hand: nmap -sV      ${(nmapMs / 1000).toFixed(1)} s`);
    console.log(`           hydra telnet  ${(telnetMs / 1000).toFixed(1)} s`);
    console.log(`           hydra ssh     ${(sshMs / 1000).toFixed(1)} s`);
    console.log('           hydra mqtt    (no MQTT module in hydra)');
    console.log(`  ratio by hand / ours:  ${(byHand / oursMs).toFixed(1)}x (without MQTT on the hand side)`);
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
}

await main();
