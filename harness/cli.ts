import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { join } from 'node:path';
import { z } from 'zod';
import { resolveCredentials } from '../probes/lib/credentials.js';
import { PROBES } from '../probes/registry.js';
import { builtinProfileIds, loadProfile, loadProfileFile } from '../profiles/loader.js';
import { writerIds } from '../reports/registry.js';
import { parseFormats, readRunModel, render } from '../reports/render.js';
import { explainProvision } from '../reports/explain.js';
import { renderSummary } from '../reports/text.js';
import { addBundleCommands, checkBeforeResigning, prepareSigningKey } from './bundle-commands.js';
import { runDemo } from './demo.js';
import { DEFAULT_TIMINGS } from './discovery/identify.js';
import type { ScannerChoice } from './discovery/scanners.js';
import { ConfigError, HarnessError } from './errors.js';
import { verifyEvidenceChain } from './evidence.js';
import { addLabCommands, labTargets } from './lab-commands.js';
import { writeManifest } from './write.js';
import { displayPath } from './input.js';
import { harnessVersion } from './paths.js';
import { parseExcludePorts, parsePorts, type PortSet } from './ports.js';
import { Progress } from './progress.js';
import { type RunConfig, runHarness } from './run.js';
import { readTargetsFile, type TargetRequest } from './targets.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function positiveInt(name: string, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1 || n > max) throw new InvalidArgumentError(`${name} must be a whole number from 1 to ${max}`);
    return n;
  };
}

function nonNegativeInt(name: string, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n > max) throw new InvalidArgumentError(`${name} must be a whole number from 0 to ${max}`);
    return n;
  };
}

interface RunFlags {
  target?: string[];
  lab?: string | true;
  labDir?: string;
  targets?: string;
  declaration?: string;
  profile?: string[];
  ports: string;
  excludePorts?: string;
  scope?: string[];
  concurrency: number;
  out?: string;
  json?: boolean;
  scanner: ScannerChoice;
  timeout: number;
  maxConnections: number;
  credentials?: string;
  fast?: boolean;
  safe?: boolean;
  loginDelay?: number;
  maxLogins?: number;
  allCredentials?: boolean;
  waivers?: string;
  format?: string;
  signingKey?: string;
}

/** `--fast`: the lab setting for benchmarks and loopback fixtures; never for a real device. */
const FAST = { loginDelay: 0, maxLogins: 8 };

/** Flags → a validated RunConfig. Every problem is a ConfigError naming the flag. */
export function buildRunConfig(flags: RunFlags): RunConfig {
  const targets: TargetRequest[] = [];
  for (const t of flags.target ?? []) targets.push({ address: t, source: `--target ${t}` });
  if (flags.declaration !== undefined) {
    if (targets.length !== 1) throw new ConfigError('--declaration goes with exactly one --target; for several devices put a declaration per target in a --targets file');
    (targets[0] as TargetRequest).declarationPath = flags.declaration;
  }
  if (flags.targets !== undefined) targets.push(...readTargetsFile(flags.targets));
  if (flags.labDir !== undefined && flags.lab === undefined) throw new ConfigError('--lab-dir goes with --lab: add --lab (every device) or --lab camera,hub');
  if (flags.lab !== undefined) targets.push(...labTargets(flags.lab === true ? undefined : flags.lab, flags.labDir));
  if (targets.length === 0) throw new ConfigError('no targets: give --target ADDR (repeatable), --targets FILE or --lab');
  const exclude: PortSet = flags.excludePorts ? parseExcludePorts(flags.excludePorts) : { tcp: [], udp: [] };
  const config: RunConfig = {
    targets,
    profiles: flags.profile ?? [],
    ports: parsePorts(flags.ports),
    excludePorts: exclude,
    concurrency: flags.concurrency,
    scanner: flags.scanner,
    timings: { connectMs: Math.max(flags.timeout, DEFAULT_TIMINGS.connectMs), bannerMs: Math.round(flags.timeout * (2 / 3)), probeMs: flags.timeout },
    maxConnectionsPerDevice: flags.maxConnections,
    maxLoginsPerDevice: flags.maxLogins ?? (flags.fast ? FAST.maxLogins : 2),
    allowIntrusive: flags.safe !== true,
    probeOptions: {
      delayMs: flags.loginDelay ?? (flags.fast ? FAST.loginDelay : 100),
      stopAtFirstSuccess: flags.allCredentials !== true,
      ...(flags.credentials === undefined ? {} : { credentials: flags.credentials.split(',').map((c) => c.trim()).filter((c) => c !== '') }),
    },
  };
  if (flags.credentials !== undefined) resolveCredentials(config.probeOptions?.credentials as string[]);
  if (flags.scope !== undefined) config.scope = flags.scope;
  if (flags.waivers !== undefined) config.waiversFile = flags.waivers;
  if (flags.out !== undefined) config.outDir = flags.out;
  if (flags.signingKey !== undefined) config.signingKey = flags.signingKey;
  return config;
}

const SIGNING_KEY_HELP = 'ed25519 private key (PKCS#8 PEM) that signs manifest.json (default: your own, generated once in ~/.config/iot-harness)';

function runOptions(cmd: Command): Command {
  return cmd
    .option('--target <addr>', 'device address (IP or name); repeatable', collect)
    .option('--targets <file>', 'YAML file: targets: [{ address, name?, declaration?, ports? }]')
    .option('--declaration <file>', 'declaration (ICS/IXIT) YAML for the single --target')
    .option('--lab [devices]', 'the devices of the running lab (`iot-harness lab up`), with their declarations: all, or the comma-separated ids given')
    .option('--lab-dir <dir>', 'with --lab: the folder of a lab started with `lab up --dir DIR`')
    .option('--profile <id>', 'profile id or YAML path; repeatable (default: every built-in profile)', collect)
    .option('--ports <list>', 'ports: 22,80-90,U:5683 | default | all (TCP 1-65535)', 'default')
    .option('--exclude-ports <list>', 'ports never contacted by any probe, e.g. 2024,U:5684')
    .option('--scope <cidr>', 'allowed address block; repeatable; replaces the default scope (loopback, RFC 1918, link-local, ULA)', collect)
    .option('--concurrency <n>', 'targets probed at once', positiveInt('--concurrency', 1024), 4)
    .option('--max-connections <n>', 'concurrent connections per device', positiveInt('--max-connections', 1024), 64)
    .option('--timeout <ms>', 'how long each protocol exchange waits for an answer', positiveInt('--timeout', 600_000), DEFAULT_TIMINGS.probeMs)
    .addOption(new Option('--scanner <kind>', 'port scanner').choices(['auto', 'builtin', 'nmap']).default('auto'))
    .option('--credentials <lists>', 'default-credential lists to try: built-in ids (mirai, vendors) or files of username:password lines, comma-separated', )
    .option('--login-delay <ms>', 'pause between two login attempts on one service (default 100)', nonNegativeInt('--login-delay', 60_000))
    .option('--max-logins <n>', 'concurrent login attempts per device across all services (default 2)', positiveInt('--max-logins', 64))
    .option('--all-credentials', 'keep trying after a default credential is accepted (default: stop at the first)')
    .option('--fast', 'lab setting for loopback fixtures and benchmarks: no login delay, 8 logins at once')
    .option('--safe', 'skip intrusive probes (those that send credentials or write)')
    .option('--waivers <file>', 'YAML waivers: [{ scheme, provision, justification, expires }]: waived provisions are NOT_APPLICABLE until they expire')
    .option('--format <list>', `extra report formats written into the run folder: ${['json', ...writerIds()].join(', ')} (report.json is always written)`)
    .option('--out <dir>', 'run folder (default: runs/<run-id>)')
    .option('--signing-key <file>', SIGNING_KEY_HELP)
    .option('--json', 'print report.json on stdout instead of the verdict table');
}

/** Print the outcome of a run and return its exit code. */
/** Render the extra formats into a run folder; a failing writer is reported and makes the exit 3. */
async function renderFormats(dir: string, formats: readonly string[], signingKey?: string): Promise<boolean> {
  if (formats.length === 0) return true;
  const run = readRunModel(dir);
  const outcome = await render(run, dir, formats);
  for (const f of outcome.failures) process.stderr.write(`iot-harness: the ${f.format} writer failed: ${f.error.stack ?? f.error.message}\n`);
  const chain = verifyEvidenceChain(join(dir, 'evidence.jsonl'));
  writeManifest(dir, run.report, { records: chain.records, head: chain.head }, signingKey);
  return outcome.failures.length === 0;
}

function finish(outcome: Awaited<ReturnType<typeof runHarness>>, json: boolean | undefined): number {
  for (const w of outcome.warnings) process.stderr.write(`iot-harness: warning: ${w}\n`);
  if (json) process.stdout.write(`${JSON.stringify(outcome.report, null, 2)}\n`);
  else process.stdout.write(renderSummary(outcome.report, { colour: process.stdout.isTTY === true, reportPath: displayPath(join(outcome.outDir, 'report.json')) }));
  return outcome.exitCode;
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('iot-harness')
    .description('Conformance test harness for IoT devices: probes on a lab LAN, verdicts per baseline provision, evidence a lab can file.')
    .version(harnessVersion())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  runOptions(program.command('run').description('probe devices and judge them against the profiles')).action(async (flags: RunFlags) => {
    const config = buildRunConfig(flags);
    const formats = parseFormats(flags.format);
    prepareSigningKey(config.signingKey);
    const progress = new Progress();
    config.onProgress = progress.handle;
    try {
      const outcome = await runHarness(config);
      progress.stop();
      const written = await renderFormats(outcome.outDir, formats, config.signingKey);
      const code = finish(outcome, flags.json);
      setExit(written ? code : code === 1 ? 1 : 3);
    } finally {
      progress.stop();
    }
  });

  program
    .command('demo')
    .description('run every profile against the simulated devices and print the verdicts: the running lab (`lab up`) if there is one, else devices started for this run')
    .option('--out <dir>', 'run folder (default: runs/<run-id>)')
    .option('--json', 'print report.json on stdout instead of the verdict table')
    .option('--exclude-ports <list>', 'ports the demo must not use or scan')
    .option('--signing-key <file>', SIGNING_KEY_HELP)
    .option('--format <list>', `extra report formats, e.g. html for a page to open in a browser: ${writerIds().join(', ')}`)
    .option('--lab-dir <dir>', 'the lab folder of a running `lab up --dir DIR` (default: ~/.config/iot-harness/lab)')
    .action(async (flags: { out?: string; json?: boolean; excludePorts?: string; signingKey?: string; format?: string; labDir?: string }) => {
      prepareSigningKey(flags.signingKey);
      const formats = parseFormats(flags.format);
      const progress = new Progress();
      try {
        const outcome = await runDemo({
          ...(flags.out === undefined ? {} : { outDir: flags.out }),
          ...(flags.signingKey === undefined ? {} : { signingKey: flags.signingKey }),
          ...(flags.labDir === undefined ? {} : { labDir: flags.labDir }),
          excludePorts: flags.excludePorts ? parseExcludePorts(flags.excludePorts) : { tcp: [], udp: [] },
          onProgress: progress.handle,
          log: (line) => {
            progress.stop();
            process.stderr.write(`${line}\n`);
          },
        });
        progress.stop();
        const written = await renderFormats(outcome.outDir, formats, flags.signingKey);
        finish(outcome, flags.json);
        // The demo shows failures on purpose: it succeeded when it ran.
        setExit(outcome.exitCode === 3 || !written ? 3 : 0);
      } finally {
        progress.stop();
      }
    });

  program
    .command('report <runDir>')
    .description('render a finished run again in other formats, or explain one verdict with its evidence, without probing (report.json is read back and checked)')
    .option('--format <list>', `formats: ${writerIds().join(', ')}`)
    .option('--explain <provision>', 'print the verdict for this provision (e.g. 5.1-1) with its rationale, observations and raw evidence')
    .option('--target <id>', 'with --explain: only this target (device name)')
    .option('--scheme <id>', 'with --explain: only this scheme, e.g. etsi-en-303-645')
    .option('--signing-key <file>', SIGNING_KEY_HELP)
    .action(async (runDir: string, flags: { format?: string; explain?: string; target?: string; scheme?: string; signingKey?: string }) => {
      if (flags.explain !== undefined) {
        if (flags.format !== undefined) throw new ConfigError('--explain prints to the terminal and --format writes files: give one of them at a time');
        const query = { provision: flags.explain, ...(flags.target === undefined ? {} : { target: flags.target }), ...(flags.scheme === undefined ? {} : { scheme: flags.scheme }) };
        process.stdout.write(explainProvision(readRunModel(runDir), query, displayPath(runDir)));
        return;
      }
      if (flags.target !== undefined || flags.scheme !== undefined) throw new ConfigError('--target and --scheme go with --explain');
      const formats = parseFormats(flags.format);
      if (formats.length === 0) throw new ConfigError(`--format: give at least one of ${writerIds().join(', ')} (or --explain PROVISION)`);
      prepareSigningKey(flags.signingKey);
      // Re-signing must not launder edits: the folder has to verify first.
      checkBeforeResigning(runDir, flags.signingKey);
      const ok = await renderFormats(runDir, formats, flags.signingKey);
      process.stdout.write(`${ok ? 'Rendered' : 'Rendered with failures'}: ${formats.join(', ')} in ${displayPath(runDir)}\n`);
      setExit(ok ? 0 : 3);
    });

  program
    .command('probes')
    .description('list the probes, their options and whether they are intrusive (no network)')
    .option('--json', 'as JSON')
    .action((flags: { json?: boolean }) => {
      const rows = PROBES.map((p) => ({ id: p.meta.id, title: p.meta.title, description: p.meta.description, protocols: p.meta.protocols, intrusive: p.meta.intrusive, budget: p.meta.budget, options: z.toJSONSchema(p.meta.options, { io: 'input' }) }));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      if (rows.length === 0) process.stdout.write('No probes beyond discovery: discovery identifies services on every run (see docs/discovery.md).\n');
      for (const r of rows) {
        process.stdout.write(`${r.id}  ${r.intrusive ? '[intrusive: sends credentials or writes; off with --safe]' : '[safe]'}\n  ${r.title}. Runs on: ${r.protocols.join(', ')}.\n`);
        const props = (r.options as { properties?: Record<string, { default?: unknown; description?: string }> }).properties ?? {};
        for (const [name, o] of Object.entries(props)) {
          process.stdout.write(`    ${name.padEnd(22)} default ${JSON.stringify(o.default ?? null).padEnd(22)} ${o.description ?? ''}\n`);
        }
      }
    });

  const profiles = program.command('profiles').description('list, show and check profiles (no network)');
  profiles
    .command('list', { isDefault: true })
    .description('list the built-in profiles')
    .action(() => {
      for (const id of builtinProfileIds()) {
        const p = loadProfile(id);
        const assessed = p.provisions.filter((x) => 'assessment' in x.assess).length;
        process.stdout.write(`${p.id.padEnd(20)} ${p.version.padEnd(8)} ${p.provisions.length} provisions, ${assessed} probed  ${p.title}\n`);
      }
    });
  profiles
    .command('show <id>')
    .description('every provision of a profile and how it is assessed')
    .action((id: string) => {
      const p = loadProfile(id);
      process.stdout.write(`${p.title}\n${p.standard.name} ${p.standard.version}${p.standard.assessedPer ? `, assessed per ${p.standard.assessedPer}` : ''}\n\n`);
      const width = Math.max(8, ...p.provisions.map((pr) => pr.id.length));
      for (const pr of p.provisions) {
        const how = 'assessment' in pr.assess ? `probed: ${pr.assess.assessment}` : `manual (${pr.assess.basis})`;
        process.stdout.write(`${pr.id.padEnd(width)} ${pr.category}  ${pr.level === undefined ? '' : `L${pr.level} `}${pr.title.padEnd(60)} ${how}\n`);
      }
      if (p.levels) process.stdout.write(`\nlevels: ${Object.entries(p.levels).map(([k, v]) => `${k} = ${v}`).join(', ')}`);
      for (const d of p.deemedCompliance) process.stdout.write(`\ndeemed compliance: ${d}`);
      for (const n of p.notes) process.stdout.write(`\nnote: ${n}`);
      process.stdout.write('\n');
    });
  profiles
    .command('check <file>')
    .description('validate a profile YAML file')
    .action((file: string) => {
      const p = loadProfileFile(file);
      process.stdout.write(`${displayPath(file)}: ok (${p.id}, ${p.provisions.length} provisions)\n`);
    });

  addBundleCommands(program, setExit);
  addLabCommands(program, setExit);

  return program;
}

/** Entry point: returns the exit code. Only here are errors printed. */
export async function main(argv: readonly string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv]);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; any other usage error is bad input.
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
    }
    if (err instanceof HarnessError && err.isInputError) {
      process.stderr.write(`iot-harness: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`iot-harness: the harness could not complete: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 3;
  }
}

