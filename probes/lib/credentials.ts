import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import type { DeclarationData } from '../../harness/declaration.js';
import { ConfigError } from '../../harness/errors.js';
import { displayPath, loadYamlFile } from '../../harness/input.js';
import { packageRoot } from '../../harness/paths.js';

/** One username/password pair and the list it came from (reported as `source`). */
export interface Credential {
  username: string;
  password: string;
  /** The list id (`mirai`, `vendors`) or the user's file name. */
  source: string;
}

export const CredentialEntrySchema = z.strictObject({
  username: z.coerce.string(),
  password: z.coerce.string().describe('empty string for "no password"'),
  vendor: z.string().optional(),
  devices: z.string().optional().describe('device kinds or models the pair ships on'),
  protocols: z.array(z.string()).optional().describe('services the pair is documented for; all when absent'),
  source: z.string().min(3).optional().describe('where the pair is documented: a manual, an advisory, a public list'),
});

export const CredentialListSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/),
  title: z.string(),
  source: z.string().min(3).optional().describe('the source for every entry that does not name its own'),
  entries: z.array(CredentialEntrySchema).min(1),
});

export type CredentialList = z.infer<typeof CredentialListSchema>;

export function credentialDataDir(): string {
  return join(packageRoot(), 'probes', 'data');
}

/** Ids of the built-in lists in probes/data/. */
export function builtinCredentialLists(): string[] {
  return readdirSync(credentialDataDir())
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => basename(f, '.yaml'))
    .sort();
}

/** A built-in list, with every entry's source checked present. */
export function loadCredentialList(id: string): CredentialList {
  const file = join(credentialDataDir(), `${id}.yaml`);
  const list = loadYamlFile(file, CredentialListSchema, 'credential list');
  list.entries.forEach((e, i) => {
    if (!e.source && !list.source) throw new ConfigError(`${displayPath(file)}: entries[${i}]: no source; every default credential names where it is documented`);
  });
  return list;
}

/**
 * A user's own file: YAML in the list format, or plain text with one `username:password` per line
 * (`#` comments; a line `admin:` means an empty password).
 */
function loadUserFile(path: string): Credential[] {
  const name = basename(path);
  if (/\.ya?ml$/i.test(path)) return loadYamlFile(path, CredentialListSchema, 'credential list').entries.map((e) => ({ username: e.username, password: e.password, source: name }));
  const out: Credential[] = [];
  readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .forEach((line, i) => {
      if (line.trim() === '' || line.trimStart().startsWith('#')) return;
      const colon = line.indexOf(':');
      if (colon < 0) throw new ConfigError(`${displayPath(path)}: line ${i + 1}: expected username:password`);
      out.push({ username: line.slice(0, colon), password: line.slice(colon + 1), source: name });
    });
  if (out.length === 0) throw new ConfigError(`${displayPath(path)}: no username:password lines`);
  return out;
}

/**
 * Resolve `--credentials mirai,vendors,./mine.txt` into pairs, in order, duplicates dropped (the
 * first list that names a pair is its source). Entries a list limits to other protocols than those
 * given are left out: a pair documented for "http" or "https" is tried on both when both are given.
 */
export function resolveCredentials(names: readonly string[], protocols?: string | readonly string[]): Credential[] {
  const wanted = protocols === undefined ? undefined : typeof protocols === 'string' ? [protocols] : protocols;
  const seen = new Set<string>();
  const out: Credential[] = [];
  const builtins = builtinCredentialLists();
  for (const name of names) {
    let pairs: Credential[];
    if (builtins.includes(name)) {
      pairs = loadCredentialList(name)
        .entries.filter((e) => !wanted || !e.protocols || e.protocols.some((p) => wanted.includes(p)))
        .map((e) => ({ username: e.username, password: e.password, source: name }));
    } else if (existsSync(name)) pairs = loadUserFile(resolve(name));
    else throw new ConfigError(`--credentials: "${name}" is neither a built-in list (${builtins.join(', ')}) nor a file`);
    for (const p of pairs) {
      const key = `${p.username}\u0000${p.password}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(p);
    }
  }
  return out;
}

/**
 * A declaration's test accounts are the lab's own credentials, not defaults: they are never tried as
 * defaults, so they can never be judged "default".
 */
export function withoutDeclaredTestAccounts(credentials: readonly Credential[], declaration: DeclarationData | undefined): { kept: Credential[]; skipped: number } {
  const test = new Set((declaration?.credentials?.test ?? []).map((t) => `${t.username}\u0000${t.password}`));
  const kept = credentials.filter((c) => !test.has(`${c.username}\u0000${c.password}`));
  return { kept, skipped: credentials.length - kept.length };
}
