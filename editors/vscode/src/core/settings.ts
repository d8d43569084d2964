/**
 * The `infill.*` settings as the extension reads and sends them. No `vscode` import: unit-testable.
 *
 * VS Code holds one `infill` section. Its `model`, `completion`, `engine`, `context` and `stats` subtrees and its
 * `exclude` list belong to the server (`server/infill_ls/config.py`); `enable`, `server` and `client` are read by
 * this extension only and never sent, because the server reports every key it does not know ("infill.enable:
 * unknown setting").
 */

/** Subtrees of `infill` that the server owns, in the order of docs/protocol.md. */
export const SERVER_SECTIONS = ['model', 'completion', 'engine', 'context', 'stats'] as const;

/** Keys of `infill` that the server owns whose value is a list, not a subtree (after the subtrees, as there). */
export const SERVER_LISTS = ['exclude'] as const;

/** Subtrees of `infill` that only this extension reads. */
export const CLIENT_SECTIONS = ['enable', 'server', 'client'] as const;

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = Record<string, JsonValue>;

/** The tree the server parses: `{model: {...}, completion: {...}, engine: {...}, context: {...}, stats: {...}, exclude: [...]}`. */
export type ServerTree = Partial<Record<(typeof SERVER_SECTIONS)[number], JsonObject>> &
  Partial<Record<(typeof SERVER_LISTS)[number], JsonValue[]>>;

/** Anything that answers `get(key)` for keys under `infill`, like `vscode.WorkspaceConfiguration`. */
export interface SectionReader {
  get(key: string): unknown;
}

/** `infill.enable`: a language id → on/off map; `"*"` is the fallback for languages not listed. */
export type EnableMap = Readonly<Record<string, boolean>>;

export const DEFAULT_ENABLE: EnableMap = { '*': true, plaintext: false, markdown: false, scminput: false };

/** `infill.completion.trigger`: `auto` asks as the user types, `manual` only on the trigger key. */
export type Trigger = 'auto' | 'manual';

/** `infill.completion.triggerLanguages`: language id → trigger, over `infill.completion.trigger`. */
export type TriggerMap = Readonly<Record<string, Trigger>>;

/** As the server's default (config.py `DEFAULT_TRIGGER_LANGUAGES`): prose on the trigger key only. */
export const DEFAULT_TRIGGER_LANGUAGES: TriggerMap = { markdown: 'manual', plaintext: 'manual' };

/** The settings only the extension reads. */
export interface ClientSettings {
  /** `infill.server.command`: the server command line; empty = automatic. */
  readonly command: readonly string[];
  /** `infill.server.pythonPath`: interpreter that runs `-m infill_ls`; empty = use `infill-ls` from PATH. */
  readonly pythonPath: string;
  /** `infill.enable`: per-language switch. */
  readonly enable: EnableMap;
  /** `infill.client.debounceMs`: extra wait in the editor before a request is sent; 0 = none. */
  readonly debounceMs: number;
  /** `infill.completion.enable`: a server key the extension also reads, to skip requests while it is off. */
  readonly completionEnabled: boolean;
  /** `infill.completion.trigger` and `triggerLanguages`: server keys the extension also reads, to skip the automatic
   * requests of a manual language (the server would answer them empty). */
  readonly trigger: Trigger;
  readonly triggerLanguages: TriggerMap;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A deep copy of `value` with only JSON data left (VS Code's config objects are proxies). */
export function toJson(value: unknown): JsonValue | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') {
    return value;
  }
  if (typeof value === 'number') {
    return Number.isFinite(value) ? value : undefined;
  }
  if (Array.isArray(value)) {
    return value.map((item) => toJson(item) ?? null);
  }
  if (isPlainObject(value)) {
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) {
      const json = toJson(item);
      if (json !== undefined) {
        out[key] = json;
      }
    }
    return out;
  }
  return undefined;
}

/**
 * The server's part of the `infill` section: its subtrees and lists, copied as they are.
 *
 * Values are not checked here: the server checks them, falls back to the default and names the bad key.
 */
export function serverTree(section: SectionReader): ServerTree {
  const tree: ServerTree = {};
  for (const name of SERVER_SECTIONS) {
    const value = toJson(section.get(name));
    if (value !== undefined && isPlainObject(value)) {
      tree[name] = value;
    }
  }
  for (const name of SERVER_LISTS) {
    const value = toJson(section.get(name));
    if (Array.isArray(value)) {
      tree[name] = value;
    }
  }
  return tree;
}

/** `initializationOptions` for `initialize`, and `settings` for `workspace/didChangeConfiguration`. */
export function initializationOptions(section: SectionReader): { infill: ServerTree } {
  return { infill: serverTree(section) };
}

/** A reader over a plain object, e.g. the value VS Code returns for the whole `infill` section. */
export function objectReader(value: unknown): SectionReader {
  return { get: (key) => (isPlainObject(value) ? value[key] : undefined) };
}

/**
 * Filters one answer of `workspace/configuration` so the server sees only its own keys.
 *
 * `section` is the requested section (`"infill"`, `"infill.model"`, ... or undefined for everything).
 */
export function filterConfigurationItem(section: string | null | undefined, value: unknown): unknown {
  if (section === 'infill') {
    return serverTree(objectReader(value));
  }
  if (section === undefined || section === null || section === '') {
    if (isPlainObject(value) && 'infill' in value) {
      return { ...value, infill: serverTree(objectReader(value.infill)) };
    }
  }
  return value;
}

/** Whether `infill.enable` allows completions in `languageId`; a language not listed follows `"*"`. */
export function isLanguageEnabled(enable: unknown, languageId: string): boolean {
  const map = isPlainObject(enable) ? enable : DEFAULT_ENABLE;
  const own = map[languageId];
  if (typeof own === 'boolean') {
    return own;
  }
  const star = map['*'];
  return typeof star === 'boolean' ? star : true;
}

function stringList(value: unknown): string[] {
  if (typeof value === 'string') {
    return value.trim() === '' ? [] : [value.trim()];
  }
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
    return value.filter((item) => item !== '');
  }
  return [];
}

function enableMap(value: unknown): EnableMap {
  if (!isPlainObject(value)) {
    return DEFAULT_ENABLE;
  }
  const map: Record<string, boolean> = {};
  for (const [key, on] of Object.entries(value)) {
    if (typeof on === 'boolean') {
      map[key] = on;
    }
  }
  return map;
}

function isTrigger(value: unknown): value is Trigger {
  return value === 'auto' || value === 'manual';
}

/** Anything but an object falls back to the default; entries that are not `auto`/`manual` are dropped (as the
 * server does). */
function triggerMap(value: unknown): TriggerMap {
  if (!isPlainObject(value)) {
    return DEFAULT_TRIGGER_LANGUAGES;
  }
  const map: Record<string, Trigger> = {};
  for (const [key, trigger] of Object.entries(value)) {
    if (isTrigger(trigger)) {
      map[key] = trigger;
    }
  }
  return map;
}

/** Whether VS Code's automatic requests (as the user types) are wanted in `languageId`; Invoked ones always are. */
export function asksAutomatically(settings: Pick<ClientSettings, 'trigger' | 'triggerLanguages'>, languageId: string): boolean {
  return (settings.triggerLanguages[languageId] ?? settings.trigger) === 'auto';
}

function nonNegativeInt(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

/** The client-only settings, each falling back to its default when the value has the wrong type. */
export function clientSettings(section: SectionReader): ClientSettings {
  const server = objectReader(section.get('server'));
  const client = objectReader(section.get('client'));
  const completion = objectReader(section.get('completion'));
  const pythonPath = server.get('pythonPath');
  const trigger = completion.get('trigger');
  return {
    command: stringList(server.get('command')),
    pythonPath: typeof pythonPath === 'string' ? pythonPath.trim() : '',
    enable: enableMap(section.get('enable')),
    debounceMs: nonNegativeInt(client.get('debounceMs')),
    completionEnabled: completion.get('enable') !== false,
    trigger: isTrigger(trigger) ? trigger : 'auto',
    triggerLanguages: triggerMap(completion.get('triggerLanguages')),
  };
}

/** What a change of configuration asks of the extension. */
export type ConfigChange = 'restart' | 'none';

/**
 * `restart` when a key that decides how the server is started changed (`infill.server.*`).
 *
 * `infill.model.*`, `infill.completion.*` and `infill.engine.*` reach the running server through
 * `workspace/didChangeConfiguration` (the server reloads the model or reconnects itself); `infill.enable` and
 * `infill.client.*` are read at each request.
 */
export function configChange(affects: (section: string) => boolean): ConfigChange {
  return affects('infill.server') ? 'restart' : 'none';
}
