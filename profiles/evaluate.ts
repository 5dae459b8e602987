import type { Label, Observation, VerdictRecord } from '../harness/report-schema.js';
import { ASSESSMENTS } from './assessments/index.js';
import type { AssessmentInput, AssessmentResult } from './assessments/types.js';
import type { Profile, Provision } from './schema.js';

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
export function evaluateProfile(profile: Profile, input: AssessmentInput): Evaluation {
  const byId = new Map<string, Observation>(input.observations.map((o) => [o.id, o]));
  const failures: Evaluation['failures'] = [];
  const verdicts = profile.provisions.map((p): VerdictRecord => {
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
  const blocking = profile.provisions.filter((p, i) => isMandatory(p) && !['PASS', 'NOT_APPLICABLE'].includes(verdicts[i]?.verdict ?? '')).map((p) => p.id);
  return { verdicts, label: { scheme: profile.scheme, ready: blocking.length === 0, blocking }, failures };
}
