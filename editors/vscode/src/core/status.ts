/**
 * The `infill/status` notification and what the status bar shows for it. No `vscode` import.
 */

export type ServerState = 'loading' | 'ready' | 'error' | 'disabled';

export interface StatusStats {
  readonly requests: number;
  readonly modelCalls: number;
  readonly cacheHits: number;
  readonly typedThrough: number;
  readonly cancelled: number;
}

/** The API a remote inference server speaks; null while the server has not said (api `auto`). */
export type EngineApi = 'llama.cpp' | 'openai';

/** Where the model runs: in the language server, or on an inference server (`infill.engine.url`). */
export type EngineInfo =
  | { readonly kind: 'local' }
  | {
    readonly kind: 'remote';
    readonly url: string;
    /** `host:port` of `url`, for display. */
    readonly host: string;
    readonly api: EngineApi | null;
    /** The served model's name, or null while it is unknown. */
    readonly model: string | null;
  };

/** The documents whose KV state the server keeps (issue 24); all zeros with a remote engine. */
export interface WarmFiles {
  readonly files: number;
  /** Their cached prompt tokens in all. */
  readonly tokens: number;
  /** Host and device memory they hold. */
  readonly bytes: number;
  /** The budget in force (`infill.completion.warmMemoryMb`). */
  readonly budgetBytes: number;
}

/** The payload of `infill/status` (docs/protocol.md). */
export interface StatusPayload {
  readonly state: ServerState;
  readonly generating: boolean;
  /** The server is computing the likely next completion ahead of time. */
  readonly speculating: boolean;
  readonly message: string;
  readonly model: string | null;
  readonly progress: number | null;
  readonly lastLatencyMs: number | null;
  readonly stats: StatusStats;
  /** `{"kind": "local"}` when the payload has no (valid) `engine`. */
  readonly engine: EngineInfo;
  /**
   * The open documents the server never completes in, reads for context or sends to an engine (`infill.exclude`,
   * a workspace's `.infillignore`): URI as the client sent it in didOpen → why, e.g. `matches ".env" (infill.exclude
   * default)`. Empty when none (or from a server before issue 21).
   */
  readonly excluded: ReadonlyMap<string, string>;
  /** The warm files; null from a server before issue 24. */
  readonly warm: WarmFiles | null;
}

const STATES: readonly ServerState[] = ['loading', 'ready', 'error', 'disabled'];
const APIS: readonly EngineApi[] = ['llama.cpp', 'openai'];
const LOCAL: EngineInfo = { kind: 'local' };

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** `engine` of the payload; anything but a remote engine with a URL reads as the local one. */
function parseEngine(raw: unknown): EngineInfo {
  const obj = record(raw);
  const url = text(obj?.url);
  if (obj?.kind !== 'remote' || url === null) {
    return LOCAL;
  }
  const api = APIS.find((known) => known === obj.api) ?? null;
  return { kind: 'remote', url, host: text(obj.host) ?? url, api, model: text(obj.model) };
}

/** `excluded` of the payload: the entries whose reason is a string (an empty reason reads as "excluded"). */
function parseExcluded(raw: unknown): Map<string, string> {
  const excluded = new Map<string, string>();
  for (const [uri, reason] of Object.entries(record(raw) ?? {})) {
    if (typeof reason === 'string') {
      excluded.set(uri, reason === '' ? 'excluded' : reason);
    }
  }
  return excluded;
}

/** `warm` of the payload: null unless it is an object; a missing or bad count reads as 0. */
function parseWarm(raw: unknown): WarmFiles | null {
  const obj = record(raw);
  if (obj === undefined) {
    return null;
  }
  const count = (key: keyof WarmFiles): number => Math.max(0, finite(obj[key]) ?? 0);
  return { files: count('files'), tokens: count('tokens'), bytes: count('bytes'), budgetBytes: count('budgetBytes') };
}

/**
 * The payload, or undefined when `raw` has no valid `state`; other missing fields take neutral values.
 * Fields the status bar does not use (`last`, `gpuOffload`, extra `stats` counters, …) are ignored.
 */
export function parseStatus(raw: unknown): StatusPayload | undefined {
  const obj = record(raw);
  const state = obj?.state;
  if (obj === undefined || typeof state !== 'string' || !STATES.includes(state as ServerState)) {
    return undefined;
  }
  const rawStats = record(obj.stats) ?? {};
  const count = (key: keyof StatusStats): number => finite(rawStats[key]) ?? 0;
  const stats: StatusStats = {
    requests: count('requests'),
    modelCalls: count('modelCalls'),
    cacheHits: count('cacheHits'),
    typedThrough: count('typedThrough'),
    cancelled: count('cancelled'),
  };
  const progress = finite(obj.progress);
  return {
    state: state as ServerState,
    generating: obj.generating === true,
    speculating: obj.speculating === true,
    message: typeof obj.message === 'string' ? obj.message : '',
    model: typeof obj.model === 'string' ? obj.model : null,
    progress: progress === null ? null : Math.min(100, Math.max(0, progress)),
    lastLatencyMs: finite(obj.lastLatencyMs),
    stats,
    engine: parseEngine(obj.engine),
    excluded: parseExcluded(obj.excluded),
    warm: parseWarm(obj.warm),
  };
}

/** What the extension knows besides the server's own status. */
export interface ClientView {
  /** The language client: starting the process, running, or not running (never started, stopped, failed). */
  readonly phase: 'starting' | 'running' | 'stopped';
  /** The extension is installing the server into its own environment (its progress notification is up). */
  readonly installing?: boolean;
  /** Why the server is not running, when it failed. */
  readonly failure?: string | undefined;
  /** `infill.completion.enable`. */
  readonly completionEnabled: boolean;
  /** A standing warning about the model (e.g. it has no FIM tokens), for the tooltip. */
  readonly warning?: string | undefined;
  /** The active editor's document URI (`uri.toString()`, as the language client sends it), if any. */
  readonly documentUri?: string | undefined;
  /** Language of the active editor, and whether `infill.enable` allows it. */
  readonly languageId?: string | undefined;
  readonly languageEnabled: boolean;
}

export type StatusKind = 'normal' | 'error';

/** Status bar contents: `text` may hold `$(codicon)` references. */
export interface StatusView {
  readonly text: string;
  readonly tooltip: string;
  readonly kind: StatusKind;
}

const NAME = 'infill';

function statsLine(status: StatusPayload): string | undefined {
  const s = status.stats;
  if (s.requests === 0) {
    return undefined;
  }
  return `${s.requests} requests, ${s.modelCalls} model calls, ${s.cacheHits} cache hits, ` +
    `${s.typedThrough} typed through, ${s.cancelled} cancelled`;
}

/** Bytes as MiB for people: one decimal below 10 MiB, whole MiB above. */
export function mebibytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return `${mib < 10 ? mib.toFixed(1) : String(Math.round(mib))} MiB`;
}

/** "warm: 3 files, 142 MiB": the files whose KV state the server keeps, so that coming back to one costs nothing. */
export function warmLine(status: StatusPayload): string | undefined {
  const warm = status.warm;
  if (warm === null || warm.files === 0) {
    return undefined;
  }
  return `warm: ${String(warm.files)} ${warm.files === 1 ? 'file' : 'files'}, ${mebibytes(warm.bytes)}`;
}

const API_NAMES: Readonly<Record<EngineApi, string>> = { 'llama.cpp': 'llama.cpp', openai: 'OpenAI-style server' };

/** "llama.cpp at 127.0.0.1:8080 · model X" for a remote engine ("server at host" while its API is unknown). */
export function engineLine(status: StatusPayload): string | undefined {
  const engine = status.engine;
  if (engine.kind !== 'remote') {
    return undefined;
  }
  const model = engine.model ?? status.model;
  return `${engine.api === null ? 'server' : API_NAMES[engine.api]} at ${engine.host}${model === null ? '' : ` · model ${model}`}`;
}

function serverLines(status: StatusPayload): string[] {
  const lines: string[] = [];
  const engine = engineLine(status);
  if (engine !== undefined) {
    lines.push(engine);
  }
  if (status.message !== '') {
    lines.push(status.message);
  }
  if (engine === undefined && status.model !== null && !status.message.includes(status.model)) {
    lines.push(`Model: ${status.model}`);
  }
  if (status.lastLatencyMs !== null) {
    lines.push(`Last completion: ${Math.round(status.lastLatencyMs)} ms`);
  }
  const stats = statsLine(status);
  if (stats !== undefined) {
    lines.push(stats);
  }
  const warm = warmLine(status);
  if (warm !== undefined) {
    lines.push(warm);
  }
  return lines;
}

/** Status bar text and tooltip for the server status (undefined until the first notification). */
export function statusView(status: StatusPayload | undefined, client: ClientView): StatusView {
  const toggle = client.completionEnabled ? 'Click to turn completions off.' : 'Click to turn completions on.';
  /** In the error state a click offers what fixes it (StatusBar), not the toggle. */
  const fix = 'Click for the actions that fix it.';
  const join = (...lines: (string | undefined)[]): string => lines.filter((l) => l !== undefined && l !== '').join('\n');

  if (client.installing === true) {
    return {
      text: `$(loading~spin) ${NAME} installing`,
      tooltip: 'infill: installing the server; its progress notification has each step (llama-cpp-python compiles for minutes).',
      kind: 'normal',
    };
  }
  if (client.phase === 'stopped') {
    return {
      text: `$(error) ${NAME}`,
      tooltip: join('infill: the server is not running.', client.failure, fix),
      kind: 'error',
    };
  }
  if (client.phase === 'starting' && status === undefined) {
    return { text: `$(loading~spin) ${NAME}`, tooltip: join('infill: starting the server…', toggle), kind: 'normal' };
  }
  // A file the server excludes says so above everything but a failure of the server itself: it is about this file
  // whatever the language or the toggle, and switching to another editor shows the normal status again.
  const excludedWhy = client.documentUri === undefined ? undefined : status?.excluded.get(client.documentUri);
  if (excludedWhy !== undefined && status?.state !== 'error') {
    return {
      text: `$(circle-slash) ${NAME}: excluded`,
      tooltip: join(
        'infill: this file is excluded: it is never completed, never read for context and never sent to the model.',
        `Why: ${excludedWhy.replace(/\.$/, '')}.`,
        "To change it: the setting infill.exclude (a pattern that starts with ! includes files again), or the workspace folder's .infillignore.",
        toggle,
      ),
      kind: 'normal',
    };
  }
  if (!client.completionEnabled) {
    return { text: `$(circle-slash) ${NAME}`, tooltip: join('infill: completions are off (infill.completion.enable).', toggle), kind: 'normal' };
  }
  if (!client.languageEnabled) {
    const language = client.languageId ?? 'this language';
    return {
      text: `$(circle-slash) ${NAME}`,
      tooltip: join(`infill: off for ${language} (setting infill.enable).`, toggle),
      kind: 'normal',
    };
  }
  if (status === undefined) {
    return { text: `$(loading~spin) ${NAME}`, tooltip: join('infill: waiting for the server status…', toggle), kind: 'normal' };
  }
  const details = [...(client.warning === undefined ? [] : [client.warning]), ...serverLines(status)];
  const remote = status.engine.kind === 'remote';
  switch (status.state) {
    case 'loading': {
      const percent = status.progress === null ? '' : ` ${Math.round(status.progress)}%`;
      const doing = remote ? 'infill: connecting to the inference server…' : 'infill: loading the model…';
      return { text: `$(loading~spin) ${NAME}${percent}`, tooltip: join(doing, ...details, toggle), kind: 'normal' };
    }
    case 'ready': {
      const ahead = status.speculating ? 'Computing the next completion ahead of time.' : undefined;
      // The idle icon tells where the model runs: in the language server, or on a shared server.
      return status.generating
        ? { text: `$(sync~spin) ${NAME}`, tooltip: join('infill: generating…', ahead, ...details, toggle), kind: 'normal' }
        : { text: `${remote ? '$(cloud)' : '$(sparkle)'} ${NAME}`, tooltip: join('infill: ready.', ahead, ...details, toggle), kind: 'normal' };
    }
    case 'error':
      return { text: `$(error) ${NAME}`, tooltip: join('infill: error.', ...details, fix), kind: 'error' };
    case 'disabled':
      return { text: `$(circle-slash) ${NAME}`, tooltip: join('infill: completions are off.', ...details, toggle), kind: 'normal' };
  }
}
