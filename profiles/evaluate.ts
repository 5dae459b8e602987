import type { Label, Observation, VerdictRecord } from '../harness/report-schema.js';
import { ASSESSMENTS } from './assessments/index.js';
import type { AssessmentInput, AssessmentResult } from './assessments/types.js';
import type { Profile, Provision } from './schema.js';
import { applyWaivers, type Waiver } from './waivers.js';

export interface Evaluation {
  verdicts: VerdictRecord[];
  label: Label;
  /** Assessments that threw: a harness bug, reported as a run error. */
  failures: { provision: string; error: Error }[];
}

/** Mandatory for exit codes and labels: M always, C when its condition holds (NOT_APPLICABLE otherwise). */
export function isMandatory(p: Provision): boolean {
  return p.category === 'M' || p.category === 'C';
}

function judge(p: Provision, input: AssessmentInput): AssessmentResult {
  if ('manual' in p.assess) return { verdict: 'NOT_ASSESSED', basis: p.assess.basis, rationale: p.assess.manual, observations: [] };
  const assessment = ASSESSMENTS.get(p.assess.assessment);
  if (!assessment) throw new Error(`unknown assessment ${p.assess.assessment}`);
  return assessment.assess(input, p.assess.params);
}

/** Judge every provision of a profile for one target. Pure: observations and declaration in, verdicts out. */
export function evaluateProfile(profile: Profile, input: AssessmentInput, waivers: readonly Waiver[] = []): Evaluation {
  const byId = new Map<string, Observation>(input.observations.map((o) => [o.id, o]));
  const failures: Evaluation['failures'] = [];
  const assessed = profile.provisions.map((p): VerdictRecord => {
    let result: AssessmentResult;
    try {
      result = judge(p, input);
    } catch (cause) {
      const error = cause instanceof Error ? cause : new Error(String(cause));
      failures.push({ provision: p.id, error });
      result = { verdict: 'INCONCLUSIVE', basis: 'functional', rationale: `The assessment could not run (${error.message}); this is a harness fault, not a device finding.`, observations: [] };
    }
    const evidence = [...new Set(result.observations.flatMap((id) => byId.get(id)?.evidence ?? []))];
    return { scheme: profile.scheme, provision: p.id, title: p.title, verdict: result.verdict, basis: result.basis, rationale: result.rationale, observations: result.observations, evidence };
  });
  const verdicts = applyWaivers(assessed, waivers);
  const isMet = (i: number): boolean => ['PASS', 'NOT_APPLICABLE'].includes(verdicts[i]?.verdict ?? '');
  const blocking = profile.provisions.filter((p, i) => isMandatory(p) && !isMet(i)).map((p) => p.id);
  const label: Label = { scheme: profile.scheme, ready: blocking.length === 0, blocking };
  if (profile.levels) {
    // The highest level L such that every mandatory provision of levels 1..L is met.
    const levels = Object.keys(profile.levels).map(Number).sort((a, b) => a - b);
    let reached = 0;
    for (const level of levels) {
      const open = profile.provisions.some((p, i) => isMandatory(p) && (p.level ?? 1) <= level && !isMet(i));
      if (open) break;
      reached = level;
    }
    label.level = reached;
    label.ready = reached >= (levels[0] ?? 1);
    label.blocking = profile.provisions.filter((p, i) => isMandatory(p) && (p.level ?? 1) <= reached + 1 && !isMet(i)).map((p) => p.id);
  }
  return { verdicts, label, failures };
}
