import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './errors.js';

/** `update.urls[0]`-style path for a zod issue. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(top level)' : out;
}

/** Short name for messages: relative to the working directory when that is shorter. */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && rel.length < file.length ? rel : file;
}

/** Turn zod issues into lines like `cam.yaml: update.urls[0]: must be an https or http URL`. */
export function describeIssues(file: string, error: z.ZodError): string {
  const name = displayPath(file);
  return error.issues
    .slice(0, 10)
    .map((issue) => {
      let message = issue.message;
      if (issue.code === 'unrecognized_keys') message = `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; check the spelling against the documented fields`;
      return `${name}: ${formatPath(issue.path)}: ${message}`;
    })
    .join('\n');
}

/** Validate already-parsed data; throws a ConfigError naming the file and each bad field. */
export function validate<S extends z.ZodType>(file: string, data: unknown, schema: S, what: string): z.output<S> {
  const result = schema.safeParse(data);
  if (!result.success) throw new ConfigError(`invalid ${what}:\n${describeIssues(file, result.error)}`);
  return result.data;
}

/**
 * Read a YAML file and validate it. Missing files, YAML syntax errors and schema errors all become
 * ConfigErrors that name the file, the place and the fix.
 */
export function loadYamlFile<S extends z.ZodType>(file: string, schema: S, what: string): z.output<S> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory, not a file' : `cannot be read (${code ?? 'error'})`;
    throw new ConfigError(`${displayPath(file)}: ${what} ${why}; check the path`, { cause });
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const where = first?.linePos?.[0] ? `line ${first.linePos[0].line}, column ${first.linePos[0].col}` : 'somewhere';
    throw new ConfigError(`${displayPath(file)}: ${what} is not valid YAML at ${where}: ${first?.message.split('\n')[0] ?? 'parse error'}`);
  }
  return validate(file, doc.toJS(), schema, what);
}
