import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IdentifyTimings } from '../../harness/discovery/identify.js';
import type { EvidenceRecord } from '../../harness/evidence.js';
import type { Observation, TargetReport } from '../../harness/report-schema.js';
import { runHarness, type RunOutcome } from '../../harness/run.js';
import type { Probe } from '../../probes/types.js';
import { tmp } from '../cli/helpers.js';

/** Short waits for loopback peers: discovery answers in milliseconds there. */
const TEST_TIMINGS: IdentifyTimings = { connectMs: 1000, bannerMs: 300, probeMs: 800 };

export interface ProbeRunRequest {
  /** The one target's address. */
  host: string;
  /** TCP ports scanned on it. */
  ports: readonly number[];
  /** UDP ports identified on it (CoAP, DTLS); default none. */
  udpPorts?: readonly number[];
  /** Probes to run; default: the registry, every probe that applies to a found service. */
  probes?: readonly Probe[];
  /** Handed to every probe's options; `delayMs` is 0 unless given, as no test wants the polite pause. */
  probeOptions?: Record<string, unknown>;
  /** Connections the egress allows at once to the device; default the harness's own. */
  maxConnectionsPerDevice?: number;
  /** A declaration file for the target. */
  declarationPath?: string;
  /** The target's name in the report (its id); default the address. */
  name?: string;
  /** Login attempts at once per device; default the harness's own. */
  maxLoginsPerDevice?: number;
  /** Profile ids; default none given, which the harness reads as every built-in profile. */
  profiles?: readonly string[];
  /** Overrides of TEST_TIMINGS, e.g. a longer `bannerMs` for a server-first service that greets slowly. */
  timings?: Partial<IdentifyTimings>;
  /** Run folder; default a fresh temporary one. */
  outDir?: string;
}

export interface ProbeRun extends RunOutcome {
  /** The report of the one target; undefined only if the harness dropped it. */
  target: TargetReport | undefined;
  /** The services discovery found on the target. */
  services: TargetReport['services'];
  /** Every observation on the target, from discovery and every probe that ran. */
  observations: Observation[];
  /** The target's observations of one key. */
  byKey: (key: string) => Observation[];
  /** The run's evidence log (evidence.jsonl), in order. */
  evidence: EvidenceRecord[];
  /** The evidence records an observation cites, in its order. */
  cited: (o: Observation | undefined) => EvidenceRecord[];
  /** The evidence record with this id; throws when the log has none. */
  record: (id: string | undefined) => EvidenceRecord;
}

/**
 * One target through the whole harness (discovery, probes, profiles), as `iot-harness run` does it: the
 * configuration every probe test repeated, with only what differs between them left to say.
 */
export async function runProbe(request: ProbeRunRequest): Promise<ProbeRun> {
  const { host, ports, udpPorts = [], probes, probeOptions = {}, maxConnectionsPerDevice, maxLoginsPerDevice, declarationPath, name, profiles = [], timings = {} } = request;
  const outcome = await runHarness({
    targets: [{ address: host, source: 'test', ...(declarationPath ? { declarationPath } : {}), ...(name ? { name } : {}) }],
    profiles,
    ports: { tcp: [...ports], udp: [...udpPorts] },
    excludePorts: { tcp: [], udp: [] },
    concurrency: 1,
    scanner: 'builtin',
    timings: { ...TEST_TIMINGS, ...timings },
    outDir: request.outDir ?? join(tmp(`${probes?.[0]?.meta.id ?? 'run'}-`), 'out'),
    ...(probes ? { probes } : {}),
    probeOptions: { delayMs: 0, ...probeOptions },
    ...(maxConnectionsPerDevice ? { maxConnectionsPerDevice } : {}),
    ...(maxLoginsPerDevice ? { maxLoginsPerDevice } : {}),
  });
  const target = outcome.report.targets[0];
  const observations = target?.observations ?? [];
  const evidence = readFileSync(join(outcome.outDir, 'evidence.jsonl'), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as EvidenceRecord);
  return {
    ...outcome,
    target,
    services: target?.services ?? [],
    observations,
    byKey: (key) => observations.filter((o) => o.key === key),
    evidence,
    cited: (o) => (o?.evidence ?? []).map((id) => evidence.find((r) => r.id === id) as EvidenceRecord),
    record: (id) => {
      const r = evidence.find((e) => e.id === id);
      if (!r) throw new Error(`no evidence ${id}`);
      return r;
    },
  };
}
