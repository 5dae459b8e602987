/**
 * Discovery benchmark (run on demand: `npm run bench`). Starts the lab fleet on loopback and times, in
 * the same run, our discovery (built-in connect scan + protocol identification) against nmap doing the
 * equivalent job (`nmap -sT -sV`, version detection). Prints both times and the ratio. Port 2024 is
 * never scanned.
 */
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { discover } from '../harness/discovery/discover.js';
import { findNmap } from '../harness/discovery/scanners.js';
import { Egress } from '../harness/egress.js';
import { defaultPorts, subtractPorts, unionPorts } from '../harness/ports.js';
import { DEMO_TIMINGS } from '../harness/demo.js';
import { Scope } from '../harness/scope.js';
import { startFleet } from '../lab/fleet.js';

const EXCLUDED = { tcp: [2024], udp: [2024] };

async function main(): Promise<void> {
  const fleet = await startFleet({ baseAddress: '127.0.0.91', excludePorts: [2024] });
  try {
    for (const device of fleet.devices) {
      const own = device.services.filter((s) => s.transport === 'tcp').map((s) => s.port);
      const ports = subtractPorts(unionPorts(defaultPorts(), { tcp: own, udp: [] }), EXCLUDED);
      const net = new Egress({ scope: new Scope(), excludePorts: EXCLUDED, maxConnectionsPerDevice: 64 });
      const t0 = performance.now();
      const ours = await discover(net, device.address, { scanner: 'builtin', ports, excludedTcp: EXCLUDED.tcp, scanConcurrency: 64, identifyConcurrency: 8, timings: DEMO_TIMINGS, signal: new AbortController().signal });
      const oursMs = performance.now() - t0;
      const summary = ours.services.map((s) => `${s.port}/${s.protocol}`).join(' ');
      console.log(`${device.id} (${device.address}), ${ports.tcp.length} TCP + ${ports.udp.length} UDP ports`);
      console.log(`  iot-harness discovery: ${oursMs.toFixed(0)} ms  [${summary}]`);
      const nmap = findNmap();
      if (!nmap) {
        console.log('  nmap not installed: no comparison (apt-get install nmap)');
        continue;
      }
      const t1 = performance.now();
      const r = await execa(nmap, ['-sT', '-sV', '-Pn', '-n', '--open', '-p', ports.tcp.join(','), '--exclude-ports', '2024', device.address], { reject: false });
      const nmapMs = performance.now() - t1;
      const found = [...r.stdout.matchAll(/^(\d+)\/tcp\s+open\s+(\S+)/gm)].map((m) => `${m[1]}/${m[2]}`).join(' ');
      console.log(`  nmap -sT -sV:          ${nmapMs.toFixed(0)} ms  [${found}]`);
      console.log(`  ratio nmap / ours:     ${(nmapMs / oursMs).toFixed(1)}x`);
    }
  } finally {
    await fleet.stop();
  }
}

await main();
