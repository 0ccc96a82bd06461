import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';

/** A problem reading or parsing a YAML file, worded for a person; the caller names the file. */
export class YamlFileProblem extends Error {}

/** Reads a file as UTF-8 text; throws YamlFileProblem saying why it cannot be read. */
export async function readYamlText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (error as Error).message;
    throw new YamlFileProblem(`cannot be read: ${reason}`);
  }
}

/** Parses YAML (JSON is YAML) that must be a mapping (`whole` names it, e.g. "(plan)"); throws YamlFileProblem otherwise. */
export function parseYamlMapping(text: string, whole: string, mustHave: string): Record<string, unknown> {
  let document: unknown;
  try {
    document = parseYaml(text, { prettyErrors: true });
  } catch (error) {
    throw new YamlFileProblem(`cannot be parsed as YAML or JSON: ${(error as Error).message}`);
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new YamlFileProblem(`${whole}: must be a mapping with at least ${mustHave}`);
  }
  return document as Record<string, unknown>;
}
