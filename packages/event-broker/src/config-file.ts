// Loading a broker config file: JSON, JavaScript or TypeScript.
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BrokerConfigError, validateConfig, type ResolvedBrokerConfig } from './config.js';

/** The file extensions `--config` accepts. */
export const configFileExtensions = ['.json', '.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'] as const;

/**
 * Reads and validates a config file. `.json` holds the declarative part;
 * `.js`/`.mjs`/`.cjs` and `.ts`/`.mts`/`.cts` export it (default export,
 * usually `defineBrokerConfig({ … })`) and may add `events` and `setup`.
 * TypeScript is loaded through tsx, so plain `node` runs it too. Throws
 * {@link BrokerConfigError} with messages that name the file and key.
 */
export async function loadBrokerConfigFile(path: string): Promise<ResolvedBrokerConfig> {
  const file = resolve(path);
  const extension = extname(file).toLowerCase();
  if (!(configFileExtensions as readonly string[]).includes(extension)) {
    throw new BrokerConfigError([`${path}: a config file must end in ${configFileExtensions.join(', ')}`]);
  }
  if (extension === '.json') {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new BrokerConfigError([`${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`]);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new BrokerConfigError([`${path}: not valid JSON (${(error as Error).message})`]);
    }
    return validateConfig(value, path);
  }
  const exports = await moduleExports(path, file, extension);
  // A config is the default export; named exports alone are a mistake to name, not "unknown keys".
  if (exports.default === undefined) {
    const names = Object.keys(exports).filter((name) => name !== 'default' && name !== '__esModule');
    throw new BrokerConfigError([
      `${path}: no default export${names.length > 0 ? ` (it exports ${names.join(', ')})` : ''}; write export default defineBrokerConfig({ … })`,
    ]);
  }
  return validateConfig(exports.default, path, { code: true });
}

/**
 * One named export of a JavaScript or TypeScript module (TypeScript through
 * tsx, as config files): what `eventwire asyncapi --events file.ts#shop`
 * reads an event map from. Throws `invalid_config` naming the file when it
 * cannot be loaded or lacks the export.
 */
export async function loadModuleExport(path: string, name: string): Promise<unknown> {
  const file = resolve(path);
  const extension = extname(file).toLowerCase();
  if (!(configFileExtensions as readonly string[]).includes(extension) || extension === '.json') {
    throw new BrokerConfigError([`${path}: a module must end in ${configFileExtensions.filter((each) => each !== '.json').join(', ')}`]);
  }
  const exports = await moduleExports(path, file, extension);
  if (!Object.hasOwn(exports, name)) {
    const names = Object.keys(exports).filter((each) => each !== '__esModule');
    throw new BrokerConfigError([`${path}: no export "${name}"${names.length > 0 ? ` (it exports ${names.join(', ')})` : ''}`]);
  }
  return exports[name];
}

/**
 * A JavaScript or TypeScript module's exports; throws naming `path` when it
 * cannot be loaded. A TypeScript file outside an ESM package is compiled to
 * CommonJS: its exports object (marked __esModule) arrives as the default,
 * and is what is returned.
 */
async function moduleExports(path: string, file: string, extension: string): Promise<Record<string, unknown>> {
  let module: Record<string, unknown>;
  try {
    module = (await importModule(file, extension)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(file)) {
      throw new BrokerConfigError([`${path}: no such file`]);
    }
    // The file itself failed (a syntax error, a throwing import): say where.
    throw new BrokerConfigError([`${path}: failed to load: ${(error as Error).message}`], { cause: error });
  }
  const compiled = module['default'];
  return compiled !== null && typeof compiled === 'object' && (compiled as { __esModule?: unknown }).__esModule === true ? (compiled as Record<string, unknown>) : module;
}

async function importModule(file: string, extension: string): Promise<unknown> {
  const url = pathToFileURL(file).href;
  if (extension === '.ts' || extension === '.mts' || extension === '.cts') {
    // Node 20 cannot run TypeScript itself; tsx's API loads this one file
    // (and what it imports) without registering a loader for the process.
    const { tsImport } = await import('tsx/esm/api');
    return tsImport(url, import.meta.url);
  }
  return import(url);
}
