import { z } from 'zod';
import { SCHEME_IDS } from '../profiles/schema.js';

/**
 * report.json, schema `iot-harness/report@1`: the canonical run model. Every other report format is
 * rendered from it. Strict objects: a reader that finds an unknown field knows the file is not ours.
 */
export const REPORT_SCHEMA_ID = 'iot-harness/report@1';

export const VERDICTS = ['PASS', 'FAIL', 'INCONCLUSIVE', 'NOT_APPLICABLE', 'NOT_ASSESSED'] as const;
export type Verdict = (typeof VERDICTS)[number];

export const ServiceSchema = z.strictObject({
  port: z.number().int().min(1).max(65535),
  transport: z.enum(['tcp', 'udp']),
  protocol: z.string().describe('identified from what the service said: ssh, telnet, http, https, tls, mqtt, mqtts, coap, coaps, ftp, rtsp, redis, unknown'),
  tls: z.boolean().describe('whether the service spoke TLS or DTLS'),
});

export const ObservationSchema = z.strictObject({
  id: z.string().describe('unique within the run, e.g. obs-0007'),
  probe: z.string().describe('id of the probe (or `discovery`, `declaration`) that made it'),
  key: z.string().describe('observation key from DESIGN.md, e.g. service.open'),
  value: z.record(z.string(), z.unknown()),
  evidence: z.array(z.string()).describe('ids of records in evidence.jsonl'),
});

export const VerdictSchema = z.strictObject({
  scheme: z.enum(SCHEME_IDS),
  provision: z.string(),
  title: z.string(),
  verdict: z.enum(VERDICTS),
  basis: z.enum(['functional', 'conceptual']).describe('functional: probed; conceptual: from the declaration'),
  rationale: z.string().describe('one sentence a lab can file'),
  observations: z.array(z.string()),
  evidence: z.array(z.string()),
});

export const LabelSchema = z.strictObject({
  scheme: z.enum(SCHEME_IDS),
  level: z.number().int().optional().describe('for leveled schemes (CLS): the highest level reached'),
  ready: z.boolean().describe('every mandatory provision PASS or NOT_APPLICABLE'),
  blocking: z.array(z.string()).describe('provisions that keep the label from being ready'),
});

export const TargetReportSchema = z.strictObject({
  id: z.string(),
  address: z.string(),
  declaration: z
    .strictObject({
      path: z.string(),
      sha256: z.string(),
      device: z.record(z.string(), z.string()).optional(),
    })
    .optional()
    .describe('the declaration (ICS/IXIT) used; test credentials never appear in reports'),
  services: z.array(ServiceSchema),
  observations: z.array(ObservationSchema),
  verdicts: z.array(VerdictSchema),
  labels: z.array(LabelSchema),
});

export const RunErrorSchema = z.strictObject({
  code: z.string(),
  message: z.string(),
  target: z.string().optional(),
  probe: z.string().optional(),
});

export const ReportSchema = z.strictObject({
  schema: z.literal(REPORT_SCHEMA_ID),
  run: z.strictObject({
    id: z.string(),
    startedAt: z.iso.datetime(),
    finishedAt: z.iso.datetime(),
    harness: z.strictObject({ version: z.string() }),
    profiles: z.array(z.strictObject({ id: z.string(), version: z.string() })),
    options: z.record(z.string(), z.unknown()).describe('the options the run used, after defaults'),
  }),
  targets: z.array(TargetReportSchema),
  errors: z.array(RunErrorSchema),
});

export type Report = z.infer<typeof ReportSchema>;
export type TargetReport = z.infer<typeof TargetReportSchema>;
export type Service = z.infer<typeof ServiceSchema>;
export type Observation = z.infer<typeof ObservationSchema>;
export type VerdictRecord = z.infer<typeof VerdictSchema>;
export type Label = z.infer<typeof LabelSchema>;
export type RunError = z.infer<typeof RunErrorSchema>;
