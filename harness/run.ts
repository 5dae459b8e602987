import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { probesFor, PROBES } from '../probes/registry.js';
import { TARGET_PROTOCOL } from '../probes/types.js';
import type { Probe, ProbeContext } from '../probes/types.js';
import { defaultProfileIds, loadProfile } from '../profiles/loader.js';
import { evaluateProfile, isMandatory } from '../profiles/evaluate.js';
import type { Profile } from '../profiles/schema.js';
import { loadWaivers, type Waiver } from '../profiles/waivers.js';
import { type DiscoveredService, discover } from './discovery/discover.js';
import { DEFAULT_TIMINGS, type IdentifyTimings } from './discovery/identify.js';
import { compressPorts, type ScannerChoice } from './discovery/scanners.js';
import { Egress } from './egress.js';
import { ConfigError, HarnessError } from './errors.js';
import { displayPath } from './input.js';
import { type EvidenceInput, EvidenceLog } from './evidence.js';
import { compareInterfaces } from './interfaces.js';
import { mapPool } from './io.js';
import { harnessVersion } from './paths.js';
import { type PortSet, subtractPorts, unionPorts } from './ports.js';
import { REPORT_SCHEMA_ID, type Observation, type Report, type RunError, type TargetReport } from './report-schema.js';
import { DEFAULT_SCOPE, Scope } from './scope.js';
import { resolveSigningKey } from './signing-key.js';
import { prepareTargets, type Target, type TargetRequest } from './targets.js';
import { writeRunFiles } from './write.js';

export interface RunConfig {
  targets: readonly TargetRequest[];
  /** Profile ids or paths; empty means every built-in profile. */
  profiles: readonly string[];
  ports: PortSet;
  excludePorts: PortSet;
  /** CIDR blocks; undefined means the default scope. */
  scope?: readonly string[];
  /** Targets probed at once. */
  concurrency: number;
  /** Run folder; default `runs/<run-id>` under the working directory. */
  outDir?: string;
  /** Entries the run folder may already hold (the demo's declarations); anything else there is refused. */
  outDirMayHold?: readonly string[];
  /** Run id; default: a new one from the start time. */
  runId?: string;
  scanner: ScannerChoice;
  timings?: IdentifyTimings;
  maxConnectionsPerDevice?: number;
  /** Ports identified at once per device. */
  identifyConcurrency?: number;
  /** Probes to run; default: the registry. */
  probes?: readonly Probe[];
  /** Settings handed to every probe's options schema (each takes the fields it knows). */
  probeOptions?: Record<string, unknown>;
  /** Run probes that send credentials or write (`--safe` turns them off). */
  allowIntrusive?: boolean;
  /** Concurrent login attempts per device across every credential probe. */
  maxLoginsPerDevice?: number;
  /** Waivers file: provisions judged NOT_APPLICABLE with a recorded justification until they expire. */
  waiversFile?: string;
  /** PKCS#8 PEM ed25519 key that signs manifest.json; default: the user's own (see signing-key.ts). */
  signingKey?: string;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
}

export type ProgressEvent =
  | { type: 'start'; total: number; runId: string; outDir: string }
  | { type: 'target'; target: string; text: string }
  | { type: 'target-done'; target: string; done: number; total: number };

export interface RunOutcome {
  report: Report;
  outDir: string;
  /** Things the user should know that did not stop the run (expired waivers). */
  warnings: string[];
  /** 0 no mandatory provision failed; 1 some failed; 3 the harness could not complete. */
  exitCode: 0 | 1 | 3;
}

export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[:.]/g, '-')}-${randomBytes(2).toString('hex')}`;
}

/** An empty or new folder for the run: never write over an earlier run. */
function prepareOutDir(dir: string, mayHold: readonly string[] = []): void {
  if (existsSync(dir) && readdirSync(dir).some((f) => !mayHold.includes(f))) {
    throw new ConfigError(`--out ${dir}: the folder already holds files; give a new or empty folder (nothing was overwritten)`);
  }
  mkdirSync(dir, { recursive: true });
}

interface TargetRunContext {
  config: RunConfig;
  net: Egress;
  log: EvidenceLog;
  profiles: readonly Profile[];
  nextObservationId: () => string;
  errors: RunError[];
  startedAt: Date;
  waivers: readonly Waiver[];
}

async function runTarget(target: Target, ctx: TargetRunContext): Promise<TargetReport> {
  const { config, net, log } = ctx;
  const signal = config.signal ?? new AbortController().signal;
  // Every in-flight read listens for abort on this one signal: hundreds at once is expected, not a leak.
  setMaxListeners(0, signal);
  const observations: Observation[] = [];
  const record = (probe: string, e: EvidenceInput): string => log.record(target.id, probe, e);
  const observe = (probe: string, key: string, value: Record<string, unknown>, evidence: readonly (EvidenceInput | string)[]): string => {
    const id = ctx.nextObservationId();
    observations.push({ id, probe, key, value, evidence: evidence.map((e) => (typeof e === 'string' ? e : record(probe, e))) });
    return id;
  };
  const status = (text: string): void => config.onProgress?.({ type: 'target', target: target.id, text });
  const declaration = target.declaration?.data;

  // Declared ports are always scanned: "declared but not found" must mean not found, not not looked at.
  const declared: PortSet = { tcp: [], udp: [] };
  for (const i of declaration?.interfaces ?? []) declared[i.transport].push(i.port);
  const ports = subtractPorts(unionPorts(target.ports ?? config.ports, declared), config.excludePorts);

  record('harness', {
    kind: 'note',
    summary: `target ${target.id} (${target.ip})${target.declaration ? `, declaration ${target.declaration.path} sha256 ${target.declaration.sha256}` : ', no declaration'}`,
    data: { address: target.address, ip: target.ip, tcpPorts: ports.tcp.length, udpPorts: ports.udp.length },
  });

  let services: DiscoveredService[] = [];
  try {
    const found = await discover(net, target.ip, {
      scanner: config.scanner,
      ports,
      excludedTcp: config.excludePorts.tcp,
      scanConcurrency: Math.min(config.maxConnectionsPerDevice ?? 64, 256),
      identifyConcurrency: config.identifyConcurrency ?? 8,
      timings: config.timings ?? DEFAULT_TIMINGS,
      signal,
      onStatus: status,
    });
    services = found.services;
    const scanId = record('discovery', found.scanEvidence);
    observe('discovery', 'scan.coverage', {
      scanner: found.scanner,
      tcpPorts: ports.tcp.length,
      udpPorts: ports.udp.length,
      fullTcp: ports.tcp.length + config.excludePorts.tcp.filter((p) => p >= 1 && p <= 65535).length >= 65535,
      excluded: { tcp: config.excludePorts.tcp, udp: config.excludePorts.udp },
      filtered: found.filtered,
    }, [scanId]);
    for (const s of services) {
      const value: Record<string, unknown> = { port: s.port, transport: s.transport, protocol: s.protocol, tls: s.tls };
      if (s.banner !== undefined) value.banner = s.banner;
      if (s.identifiedBy !== undefined) value.identifiedBy = s.identifiedBy;
      if (s.anomalies.length) value.anomalies = s.anomalies;
      observe('discovery', 'service.open', value, [scanId, ...s.evidence]);
    }
  } catch (cause) {
    if (cause instanceof HarnessError && cause.isInputError) throw cause;
    const err = cause instanceof Error ? cause : new Error(String(cause));
    ctx.errors.push({ code: cause instanceof HarnessError ? cause.code : 'E_DISCOVERY', message: `discovery failed: ${err.message}`, target: target.id });
    record('discovery', { kind: 'note', summary: `discovery failed: ${err.message}` });
  }

  const serviceObs = (port: number, transport: string): string[] =>
    observations.filter((o) => o.key === 'service.open' && o.value.port === port && o.value.transport === transport).flatMap((o) => o.evidence);
  const comparison = compareInterfaces(services, declaration);
  for (const s of comparison.undeclared) {
    observe('declaration', 'service.undeclared', { port: s.port, transport: s.transport, protocol: s.protocol }, serviceObs(s.port, s.transport));
  }
  for (const a of comparison.absent) {
    const ev = record('declaration', { kind: 'note', summary: `declared ${a.protocol} on ${a.transport}/${a.port} was not found open`, port: a.port, transport: a.transport });
    observe('declaration', 'service.absent', { ...a }, [ev]);
  }
  for (const m of comparison.mismatched) {
    observe('declaration', 'service.mismatch', { port: m.service.port, transport: m.service.transport, declared: m.declared, found: m.service.protocol }, serviceObs(m.service.port, m.service.transport));
  }

  const probes = config.probes ?? PROBES;
  const runProbe = async (probe: Probe, s: DiscoveredService): Promise<void> => {
    status(`${probe.meta.id} on ${s.transport}/${s.port}`);
    const options = probe.meta.options.safeParse({ ...config.probeOptions });
    if (!options.success) {
      ctx.errors.push({ code: 'E_PROBE_OPTIONS', message: `${probe.meta.id}: its default options do not validate: ${options.error.message}`, target: target.id, probe: probe.meta.id });
      return;
    }
    const probeCtx: ProbeContext<unknown> = {
      target: { id: target.id, address: target.address, ip: target.ip, ...(target.declaration ? { declaration: target.declaration } : {}) },
      service: { port: s.port, transport: s.transport, protocol: s.protocol, tls: s.tls, ...(s.banner === undefined ? {} : { banner: s.banner }) },
      options: options.data,
      signal,
      net,
      record: (e) => record(probe.meta.id, e),
      observe: (key, value, evidence) => observe(probe.meta.id, key, value, evidence),
    };
    try {
      await probe.run(probeCtx);
    } catch (cause) {
      // A probe that throws has a bug or met something it cannot handle: the run goes on, the error is kept.
      const err = cause instanceof Error ? cause : new Error(String(cause));
      ctx.errors.push({ code: cause instanceof HarnessError ? cause.code : 'E_PROBE', message: `${probe.meta.id} on ${s.transport}/${s.port}: ${err.message}`, target: target.id, probe: probe.meta.id });
    }
  };
  const allowed = probes.filter((p) => config.allowIntrusive !== false || !p.meta.intrusive);
  // Services in parallel; on one service the probes take turns in registry order, so a brute-force
  // trial never overlaps the default-credential attempts it would otherwise disturb.
  const perService = services.map((s) => ({ s, list: probesFor(s.protocol, allowed) })).filter((j) => j.list.length > 0);
  await mapPool(perService, 4, async ({ s, list }) => {
    for (const probe of list) {
      if (signal.aborted) return;
      await runProbe(probe, s);
    }
  });
  // Probes about the device as a whole (its declared update endpoints, ...) run once, after the
  // service probes, with a stand-in service that names no port.
  for (const probe of probesFor(TARGET_PROTOCOL, allowed)) {
    if (signal.aborted) break;
    await runProbe(probe, { port: 0, transport: 'tcp', protocol: TARGET_PROTOCOL, tls: false, anomalies: [], evidence: [] });
  }

  const verdicts = [];
  const labels = [];
  for (const profile of ctx.profiles) {
    const evaluation = evaluateProfile(profile, { observations, now: ctx.startedAt, ...(declaration ? { declaration } : {}) }, ctx.waivers);
    verdicts.push(...evaluation.verdicts);
    labels.push(evaluation.label);
    for (const f of evaluation.failures) ctx.errors.push({ code: 'E_ASSESSMENT', message: `${profile.id} ${f.provision}: ${f.error.message}`, target: target.id });
  }

  const report: TargetReport = {
    id: target.id,
    address: target.address,
    services: services.map((s) => ({ port: s.port, transport: s.transport, protocol: s.protocol, tls: s.tls })),
    observations,
    verdicts,
    labels,
  };
  if (target.declaration) {
    const d = target.declaration;
    const device = Object.fromEntries(Object.entries(d.data.device ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'));
    report.declaration = { path: d.path, sha256: d.sha256, ...(Object.keys(device).length ? { device } : {}) };
  }
  return report;
}

/** Run every target through discovery, probes and profiles; write report.json, evidence.jsonl, manifest.json. */
export async function runHarness(config: RunConfig): Promise<RunOutcome> {
  const startedAt = new Date();
  // Everything that can be wrong with the input is found here, before the first packet.
  const scope = new Scope(config.scope ?? DEFAULT_SCOPE);
  const profileIds = config.profiles.length ? config.profiles : defaultProfileIds();
  const profiles = profileIds.map(loadProfile);
  if (config.targets.length === 0) throw new ConfigError('no targets: give --target ADDR (repeatable) or --targets FILE');
  const waivers = config.waiversFile ? loadWaivers(config.waiversFile, startedAt) : { active: [], expired: [] };
  [...waivers.active, ...waivers.expired].forEach((w, i) => {
    const known = profiles.some((p) => p.scheme === w.scheme && p.provisions.some((pr) => pr.id === w.provision));
    if (!known) throw new ConfigError(`${displayPath(config.waiversFile ?? '')}: waivers[${i}]: no profile in this run has ${w.scheme} provision "${w.provision}"; check the id (iot-harness profiles show ${w.scheme})`);
  });
  const warnings = waivers.expired.map((w) => `waiver for ${w.scheme} ${w.provision} expired on ${w.expires}: ignored, the provision is judged as usual`);
  // A key that cannot sign must stop the run now, not after the probing is done.
  resolveSigningKey(config.signingKey);
  const targets = await prepareTargets(config.targets, scope);

  const runId = config.runId ?? newRunId(startedAt);
  const outDir = resolve(config.outDir ?? join('runs', runId));
  prepareOutDir(outDir, config.outDirMayHold);
  const net = new Egress({ scope, excludePorts: config.excludePorts, maxConnectionsPerDevice: config.maxConnectionsPerDevice ?? 64, maxLoginsPerDevice: config.maxLoginsPerDevice ?? 2 });
  const log = new EvidenceLog(join(outDir, 'evidence.jsonl'));
  const errors: RunError[] = [];
  let obsSeq = 0;
  const ctx: TargetRunContext = { config, net, log, profiles, errors, startedAt, waivers: waivers.active, nextObservationId: () => `obs-${String(++obsSeq).padStart(6, '0')}` };

  config.onProgress?.({ type: 'start', total: targets.length, runId, outDir });
  let done = 0;
  let targetReports: TargetReport[];
  try {
    targetReports = await mapPool(targets, config.concurrency, async (t) => {
      const r = await runTarget(t, ctx);
      config.onProgress?.({ type: 'target-done', target: t.id, done: ++done, total: targets.length });
      return r;
    });
  } finally {
    log.close();
  }

  const report: Report = {
    schema: REPORT_SCHEMA_ID,
    run: {
      id: runId,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      harness: { version: harnessVersion() },
      profiles: profiles.map((p) => ({ id: p.id, version: p.version })),
      options: {
        ports: { tcp: compressPorts(config.ports.tcp), udp: compressPorts(config.ports.udp) },
        excludePorts: { tcp: compressPorts(config.excludePorts.tcp), udp: compressPorts(config.excludePorts.udp) },
        scope: scope.cidrs.map((c) => c.text),
        concurrency: config.concurrency,
        scanner: config.scanner,
        timings: config.timings ?? DEFAULT_TIMINGS,
        maxConnectionsPerDevice: config.maxConnectionsPerDevice ?? 64,
        maxLoginsPerDevice: config.maxLoginsPerDevice ?? 2,
        allowIntrusive: config.allowIntrusive !== false,
        probeOptions: config.probeOptions ?? {},
        ...(config.waiversFile
          ? { waivers: { file: config.waiversFile, active: waivers.active.map((w) => `${w.scheme} ${w.provision} until ${w.expires}`), expired: waivers.expired.map((w) => `${w.scheme} ${w.provision} expired ${w.expires}`) } }
          : {}),
      },
    },
    targets: targetReports,
    errors,
  };
  writeRunFiles(outDir, report, { records: log.count, head: log.head }, config.signingKey);
  const mandatory = new Set(profiles.flatMap((p) => p.provisions.filter(isMandatory).map((pr) => `${p.scheme} ${pr.id}`)));
  const failed = report.targets.some((t) => t.verdicts.some((v) => v.verdict === 'FAIL' && mandatory.has(`${v.scheme} ${v.provision}`)));
  return { report, outDir, warnings, exitCode: failed ? 1 : errors.length ? 3 : 0 };
}
