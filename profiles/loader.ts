import { readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ProfileError } from '../harness/errors.js';
import { displayPath, loadYamlFile, validate } from '../harness/input.js';
import { packageRoot } from '../harness/paths.js';
import { ASSESSMENTS } from './assessments/index.js';
import { type Profile, ProfileSchema } from './schema.js';

export function builtinProfileDir(): string {
  return join(packageRoot(), 'profiles');
}

/** Ids of the built-in profiles (the YAML files in profiles/). */
export function builtinProfileIds(): string[] {
  return readdirSync(builtinProfileDir())
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => basename(f, '.yaml'))
    .sort();
}

/**
 * Load and check a profile file: schema, id equal to the file name, unique provision ids, and every
 * assessment id known with valid params. All of it before any packet is sent.
 */
export function loadProfileFile(file: string): Profile {
  const path = resolve(file);
  const where = displayPath(path);
  // ProfileError, not ConfigError: same exit code, but the message says which kind of file is wrong.
  let profile: Profile;
  try {
    profile = loadYamlFile(path, ProfileSchema, 'profile');
  } catch (cause) {
    throw new ProfileError((cause as Error).message, { cause });
  }
  const stem = basename(path).replace(/\.ya?ml$/, '');
  if (profile.id !== stem) throw new ProfileError(`${where}: id: "${profile.id}" must equal the file name "${stem}"; rename one of them`);
  const seen = new Set<string>();
  profile.provisions.forEach((p, i) => {
    if (seen.has(p.id)) throw new ProfileError(`${where}: provisions[${i}].id: "${p.id}" appears twice; each provision once`);
    seen.add(p.id);
    if ('assessment' in p.assess) {
      const assessment = ASSESSMENTS.get(p.assess.assessment);
      if (!assessment) throw new ProfileError(`${where}: provisions[${i}].assess.assessment: unknown assessment "${p.assess.assessment}"; known: ${[...ASSESSMENTS.keys()].join(', ')}`);
      try {
        p.assess.params = validate(path, p.assess.params, assessment.params, `parameters of provisions[${i}] (${p.id})`) as Record<string, unknown>;
      } catch (cause) {
        throw new ProfileError((cause as Error).message, { cause });
      }
    }
  });
  return profile;
}

/** A built-in id (`etsi-en-303-645`) or a path to a profile YAML. */
export function loadProfile(idOrPath: string): Profile {
  if (/[\\/]|\.ya?ml$/.test(idOrPath)) return loadProfileFile(idOrPath);
  const ids = builtinProfileIds();
  if (!ids.includes(idOrPath)) throw new ProfileError(`--profile: unknown profile "${idOrPath}"; built-in profiles: ${ids.join(', ')} (or give a path to a profile YAML)`);
  return loadProfileFile(join(builtinProfileDir(), `${idOrPath}.yaml`));
}
