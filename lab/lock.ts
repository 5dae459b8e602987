import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from './errors.js';

/**
 * Who owns a lab folder, and whether that owner still runs. A PID alone is not an identity: PIDs are
 * reused, and an exited child that nobody reaped (a zombie, e.g. in a container without an init)
 * still answers `kill(pid, 0)`. Where /proc exists (Linux) the process's start time and state settle
 * both; elsewhere the PID is all there is.
 */
export interface LabOwner {
  pid: number;
  /** Start time in clock ticks since boot (/proc/PID/stat field 22); absent where /proc is missing. */
  procStart?: string;
  /** Random per lab start: which lab.json belongs to which process. */
  token: string;
}

/** Marks a folder as a lab folder, so `lab up --dir` never takes over a folder holding other files. */
const MARKER = '.iot-harness-lab';
const lockPath = (dir: string): string => join(dir, 'lab.lock');

/** Fields of /proc/PID/stat after the command name (which may hold spaces and parentheses). */
function procStat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** This process's identity as a lab owner. */
export function currentOwner(token: string): LabOwner {
  // Field 3 is the state, field 22 the start time: indexes 0 and 19 after the command name.
  const start = procStat(process.pid)?.[19];
  return start === undefined ? { pid: process.pid, token } : { pid: process.pid, procStart: start, token };
}

/** Whether a process with this PID exists (signal 0 checks without sending anything). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the owner still runs: alive, not a zombie, and (where /proc tells) the same process. */
export function ownerRuns(owner: Pick<LabOwner, 'pid' | 'procStart'>): boolean {
  if (!isAlive(owner.pid)) return false;
  const stat = procStat(owner.pid);
  // No stat for this PID although /proc exists: it has just gone. No /proc at all: the PID is all there is.
  if (!stat) return !existsSync('/proc/self/stat');
  if (stat[0] === 'Z' || stat[0] === 'X') return false;
  return owner.procStart === undefined || stat[19] === owner.procStart;
}

/**
 * Refuses a `--dir` that is a file, or a folder holding files that are not a lab's: the lab rewrites
 * `declarations/` and `targets.yaml` in it, and must not do that to a user's project folder.
 */
export function checkLabDir(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new LabError(`lab: ${dir} is a file; give a folder for the lab (--dir)`, { isInputError: true });
  if (existsSync(join(dir, MARKER))) return;
  if (readdirSync(dir).length > 0) {
    throw new LabError(`lab: ${dir} already holds files that are not a lab's; give an empty or new folder with --dir (nothing was changed)`, { isInputError: true });
  }
}

/** Checks the folder (checkLabDir), creates it if needed and marks it as a lab folder. */
export function prepareLabDir(dir: string): void {
  checkLabDir(dir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, MARKER), 'This folder belongs to an iot-harness lab (lab up --dir).\n');
}

function readOwner(file: string): LabOwner | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LabOwner;
  } catch {
    return undefined;
  }
}

/**
 * Claims the lab folder for this process: `lab.lock` is created exclusively, so of two `lab up` in
 * one folder exactly one gets it; a lock whose owner no longer runs is taken over. Held for the lab's
 * whole life and given back by `releaseLabDir`.
 */
export function claimLabDir(dir: string, owner: LabOwner): void {
  prepareLabDir(dir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockPath(dir), JSON.stringify(owner), { flag: 'wx' });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readOwner(lockPath(dir));
      if (holder && ownerRuns(holder)) {
        throw new LabError(`lab: another lab is running or starting in ${dir} (pid ${holder.pid}); \`iot-harness lab status\` shows it, \`iot-harness lab down\` stops it`, { isInputError: true });
      }
      rmSync(lockPath(dir), { force: true });
    }
  }
  throw new LabError(`lab: cannot claim ${lockPath(dir)}: another lab keeps taking it`, { isInputError: true });
}

/** Removes `files` (lab.json, the lock) from `dir`, each only while it still names this owner's token. */
export function releaseLabDir(dir: string, token: string, files: readonly string[]): void {
  for (const name of [...files, 'lab.lock']) {
    const file = join(dir, name);
    if (readOwner(file)?.token === token) rmSync(file, { force: true });
  }
}
