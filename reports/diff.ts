import type { Report, Service, TargetReport, Verdict, VerdictRecord } from '../harness/report-schema.js';

/** How a verdict change reads for a firmware CI: did the device get worse, better, or just different? */
export type ChangeKind = 'regression' | 'improvement' | 'other';

export interface VerdictChange {
  scheme: VerdictRecord['scheme'];
  provision: string;
  title: string;
  /** Absent when the provision was not judged in that run (another profile version or profile set). */
  before?: Verdict;
  after?: Verdict;
  kind: ChangeKind;
  /** The rationales behind both verdicts, so the diff says why without opening the reports. */
  rationaleBefore?: string;
  rationaleAfter?: string;
}

export interface TargetDiff {
  id: string;
  address: { before: string; after: string };
  /** In the second run only, by transport, port, protocol and TLS. */
  servicesOpened: Service[];
  /** In the first run only. */
  servicesClosed: Service[];
  /** Regressions first, then improvements, then other changes; by scheme and provision within each. */
  verdicts: VerdictChange[];
}

export interface RunDiff {
  before: { runId: string; profiles: Report['run']['profiles'] };
  after: { runId: string; profiles: Report['run']['profiles'] };
  /** Targets in both runs with anything changed; targets with regressions first. */
  targets: TargetDiff[];
  /** Target ids in one run only. */
  onlyBefore: string[];
  onlyAfter: string[];
  /** Things that make changes expected: profiles added, removed or at another version. */
  notes: string[];
  counts: { regressions: number; improvements: number; other: number; servicesOpened: number; servicesClosed: number };
  /** True when any verdict regressed: the diff exits 1. */
  regressed: boolean;
}

const GOOD: readonly (Verdict | undefined)[] = ['PASS', 'NOT_APPLICABLE'];

/**
 * A regression is a new FAIL (from anything else, including no verdict at all) or a PASS or
 * NOT_APPLICABLE that became INCONCLUSIVE: the harness can no longer show the device conforms. An
 * improvement is a FAIL or INCONCLUSIVE that became PASS or NOT_APPLICABLE. Anything else (FAIL to
 * INCONCLUSIVE, PASS to NOT_APPLICABLE, a provision judged in one run only) is another change: it may
 * deserve a look but proves nothing either way.
 */
export function classifyChange(before: Verdict | undefined, after: Verdict | undefined): ChangeKind {
  if (after === 'FAIL' && before !== 'FAIL') return 'regression';
  if (after === 'INCONCLUSIVE' && GOOD.includes(before)) return 'regression';
  if ((before === 'FAIL' || before === 'INCONCLUSIVE') && GOOD.includes(after)) return 'improvement';
  return 'other';
}

const KIND_ORDER: Record<ChangeKind, number> = { regression: 0, improvement: 1, other: 2 };

const serviceKey = (s: Service): string => `${s.transport}/${s.port}/${s.protocol}/${s.tls}`;
const verdictKey = (v: { scheme: string; provision: string }): string => `${v.scheme} ${v.provision}`;

function byPort(a: Service, b: Service): number {
  return a.transport.localeCompare(b.transport) || a.port - b.port || a.protocol.localeCompare(b.protocol);
}

/** Provision ids as the standards number them: `5.10-2` after `5.9-1`. */
const provisionOrder = new Intl.Collator('en', { numeric: true });

function diffTarget(a: TargetReport, b: TargetReport): TargetDiff {
  const aServices = new Set(a.services.map(serviceKey));
  const bServices = new Set(b.services.map(serviceKey));
  const before = new Map(a.verdicts.map((v) => [verdictKey(v), v]));
  const after = new Map(b.verdicts.map((v) => [verdictKey(v), v]));
  const verdicts: VerdictChange[] = [];
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    const x = before.get(key);
    const y = after.get(key);
    if (x?.verdict === y?.verdict) continue;
    const v = (y ?? x) as VerdictRecord;
    verdicts.push({
      scheme: v.scheme,
      provision: v.provision,
      title: v.title,
      ...(x ? { before: x.verdict, rationaleBefore: x.rationale } : {}),
      ...(y ? { after: y.verdict, rationaleAfter: y.rationale } : {}),
      kind: classifyChange(x?.verdict, y?.verdict),
    });
  }
  verdicts.sort((p, q) => KIND_ORDER[p.kind] - KIND_ORDER[q.kind] || p.scheme.localeCompare(q.scheme) || provisionOrder.compare(p.provision, q.provision));
  return {
    id: a.id,
    address: { before: a.address, after: b.address },
    servicesOpened: b.services.filter((s) => !aServices.has(serviceKey(s))).sort(byPort),
    servicesClosed: a.services.filter((s) => !bServices.has(serviceKey(s))).sort(byPort),
    verdicts,
  };
}

function profileNotes(a: Report, b: Report): string[] {
  const notes: string[] = [];
  const versions = (r: Report): Map<string, string> => new Map(r.run.profiles.map((p) => [p.id, p.version]));
  const va = versions(a);
  const vb = versions(b);
  for (const [id, v] of va) {
    const w = vb.get(id);
    if (w === undefined) notes.push(`profile ${id} was used in the first run only: its verdicts show as removed`);
    else if (w !== v) notes.push(`profile ${id} changed from version ${v} to ${w}: some changes may come from the profile, not the device`);
  }
  for (const id of vb.keys()) if (!va.has(id)) notes.push(`profile ${id} was used in the second run only: its verdicts show as added`);
  return notes;
}

/** Compare two runs target by target (matched by id). Pure: no files, no clock. */
export function diffRuns(a: Report, b: Report): RunDiff {
  const bById = new Map(b.targets.map((t) => [t.id, t]));
  const aIds = new Set(a.targets.map((t) => t.id));
  const targets = a.targets
    .filter((t) => bById.has(t.id))
    .map((t) => diffTarget(t, bById.get(t.id) as TargetReport))
    .filter((d) => d.servicesOpened.length + d.servicesClosed.length + d.verdicts.length > 0 || d.address.before !== d.address.after);
  const regressionsOf = (d: TargetDiff): number => d.verdicts.filter((v) => v.kind === 'regression').length;
  // Stable sort: targets with regressions first, otherwise in the first run's order.
  targets.sort((p, q) => Number(regressionsOf(q) > 0) - Number(regressionsOf(p) > 0));
  const all = targets.flatMap((d) => d.verdicts);
  const counts = {
    regressions: all.filter((v) => v.kind === 'regression').length,
    improvements: all.filter((v) => v.kind === 'improvement').length,
    other: all.filter((v) => v.kind === 'other').length,
    servicesOpened: targets.reduce((n, d) => n + d.servicesOpened.length, 0),
    servicesClosed: targets.reduce((n, d) => n + d.servicesClosed.length, 0),
  };
  return {
    before: { runId: a.run.id, profiles: a.run.profiles },
    after: { runId: b.run.id, profiles: b.run.profiles },
    targets,
    onlyBefore: a.targets.filter((t) => !bById.has(t.id)).map((t) => t.id),
    onlyAfter: b.targets.filter((t) => !aIds.has(t.id)).map((t) => t.id),
    notes: profileNotes(a, b),
    counts,
    regressed: counts.regressions > 0,
  };
}
