import { readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { ProfileError } from '../harness/errors.js';
import { displayPath, loadYamlFile, validate } from '../harness/input.js';
import { packageRoot } from '../harness/paths.js';
import { ASSESSMENTS } from './assessments/index.js';
import { ExtendingProfileSchema, type Profile, ProfileSchema } from './schema.js';

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
export function loadProfileFile(file: string, seen: readonly string[] = []): Profile {
  const path = resolve(file);
  const where = displayPath(path);
  if (seen.includes(path)) throw new ProfileError(`${where}: extends itself through ${seen.map(displayPath).join(' -> ')}; break the cycle`);
  // ProfileError, not ConfigError: same exit code, but the message says which kind of file is wrong.
  let profile: Profile;
  try {
    const raw = loadYamlFile(path, z.record(z.string(), z.unknown()), 'profile');
    profile = 'extends' in raw ? extendProfile(path, validate(path, raw, ExtendingProfileSchema, 'profile'), [...seen, path]) : validate(path, raw, ProfileSchema, 'profile');
  } catch (cause) {
    if (cause instanceof ProfileError) throw cause;
    throw new ProfileError((cause as Error).message, { cause });
  }
  const stem = basename(path).replace(/\.ya?ml$/, '');
  if (profile.id !== stem) throw new ProfileError(`${where}: id: "${profile.id}" must equal the file name "${stem}"; rename one of them`);
  const ids = new Set<string>();
  profile.provisions.forEach((p, i) => {
    if (ids.has(p.id)) throw new ProfileError(`${where}: provisions[${i}].id: "${p.id}" appears twice; each provision once`);
    ids.add(p.id);
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

/** Apply a user's drop/override/add to the base profile; every id it names must exist (or not) as it says. */
function extendProfile(path: string, ext: z.output<typeof ExtendingProfileSchema>, seen: readonly string[]): Profile {
  const where = displayPath(path);
  const base = /[\\/]|\.ya?ml$/.test(ext.extends) ? loadProfileFile(resolve(dirname(path), ext.extends), seen) : loadProfile(ext.extends);
  const has = (id: string): boolean => base.provisions.some((p) => p.id === id);
  ext.drop.forEach((id, i) => {
    if (!has(id)) throw new ProfileError(`${where}: drop[${i}]: "${id}" is not a provision of ${base.id}; check the id (iot-harness profiles show ${base.id})`);
  });
  ext.override.forEach((o, i) => {
    if (!has(o.id)) throw new ProfileError(`${where}: override[${i}].id: "${o.id}" is not a provision of ${base.id}; to add one, list it under add`);
  });
  ext.add.forEach((a, i) => {
    if (has(a.id) && !ext.drop.includes(a.id)) throw new ProfileError(`${where}: add[${i}].id: "${a.id}" is already a provision of ${base.id}; change it under override`);
  });
  const provisions = base.provisions
    .filter((p) => !ext.drop.includes(p.id))
    .map((p) => {
      const o = ext.override.find((x) => x.id === p.id);
      if (!o) return p;
      const { id: _id, ...changes } = o;
      return { ...p, ...Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) };
    });
  return {
    ...base,
    id: ext.id,
    title: ext.title,
    version: ext.version,
    default: ext.default,
    ...(ext.standard ? { standard: ext.standard } : {}),
    // Another edition of the standard: the base's notes describe the base edition, not this one.
    notes: ext.standard ? [`Extends ${base.id} ${base.version} (${base.standard.version}).`, ...ext.notes] : [...base.notes, `Extends ${base.id} ${base.version}.`, ...ext.notes],
    provisions: [...provisions, ...ext.add],
  };
}

/** The built-in profiles a run uses when no `--profile` is given. */
export function defaultProfileIds(): string[] {
  return builtinProfileIds().filter((id) => loadProfile(id).default);
}

/** A built-in id (`etsi-en-303-645`) or a path to a profile YAML. */
export function loadProfile(idOrPath: string): Profile {
  if (/[\\/]|\.ya?ml$/.test(idOrPath)) return loadProfileFile(idOrPath);
  const ids = builtinProfileIds();
  if (!ids.includes(idOrPath)) throw new ProfileError(`--profile: unknown profile "${idOrPath}"; built-in profiles: ${ids.join(', ')} (or give a path to a profile YAML)`);
  return loadProfileFile(join(builtinProfileDir(), `${idOrPath}.yaml`));
}
