import type { z } from 'zod';
import type { Declaration } from '../harness/declaration.js';
import type { Egress } from '../harness/egress.js';
import type { EvidenceInput } from '../harness/evidence.js';
import type { Service } from '../harness/report-schema.js';

/** The `protocols` entry of a probe that runs once per target rather than per service. */
export const TARGET_PROTOCOL = '@target';

/** Plain-data description of a probe: listing and documenting probes never touches the network. */
export interface ProbeMeta<O extends z.ZodType = z.ZodType> {
  /** kebab-case, equal to the file name. */
  id: string;
  title: string;
  description: string;
  /**
   * Service protocols (as discovery names them) the probe runs on, or `TARGET_PROTOCOL` for a probe
   * that runs once per device (after the service probes), e.g. on the declaration's update URLs.
   */
  protocols: readonly string[];
  /** Sends credentials or writes to the device. */
  intrusive: boolean;
  budget: { maxAttempts: number; timeoutMs: number };
  /** Options with defaults; validated before `run`. */
  options: O;
}

/** The device a probe runs against, as the probe may see it. */
export interface ProbeTarget {
  id: string;
  address: string;
  /** The IP to connect to. */
  ip: string;
  declaration?: Declaration;
}

export interface ProbeContext<O> {
  target: ProbeTarget;
  service: Service & { banner?: string };
  options: O;
  signal: AbortSignal;
  /** The only way to the network: scoped, port-excluding, capped per device. */
  net: Egress;
  /** Record an exchange in the evidence log; returns its id for later observations. */
  record(evidence: EvidenceInput): string;
  /** Report a fact. Evidence may be fresh records or ids from `record`. Returns the observation id. */
  observe(key: string, value: Record<string, unknown>, evidence: readonly (EvidenceInput | string)[]): string;
}

/** A probe: plain-data `meta` and one function that reports observations. It never decides PASS/FAIL. */
export interface Probe<O extends z.ZodType = z.ZodType> {
  meta: ProbeMeta<O>;
  run(ctx: ProbeContext<z.output<O>>): Promise<void>;
}

/** Helper that keeps the options type tied to the schema. */
export function defineProbe<O extends z.ZodType>(probe: Probe<O>): Probe<O> {
  return probe;
}
