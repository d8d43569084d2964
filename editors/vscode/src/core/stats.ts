/**
 * "infill: Show Statistics" (issue 25): the `infill/stats` answers for 7 and 30 days, read and rendered as the
 * HTML of a webview (tables and an inline SVG chart; no script). No `vscode` import.
 */

export const STATS_REQUEST = 'infill/stats';
/** The periods the view shows, in days. */
export const PERIODS = [7, 30] as const;

/** The counts of one row (a language and model), or of a sum of rows. */
export interface Counts {
  readonly answered: number;
  readonly shown: number;
  readonly accepted: number;
  readonly acceptedPart: number;
  readonly dismissed: number;
  readonly typedOver: number;
  readonly acceptedChars: number;
  /**
   * What the rate is a share of: `shown` where the client reported what it showed, else `answered`; a sum of rows
   * sums each row's own base (so Neovim's shown and VS Code's answered add up without mixing).
   */
  readonly base: number;
}

export interface StatsRow extends Counts {
  readonly language: string;
  readonly model: string;
}

export interface DailyRow {
  readonly day: string;
  readonly answered: number;
  readonly shown: number;
  readonly accepted: number;
  readonly acceptedPart: number;
  readonly rate: number | null;
}

/** The answer of `infill/stats` (docs/protocol.md), the same JSON as `infill-ls stats --json --days N`. */
export interface StatsResult {
  readonly days: number;
  readonly since: string;
  readonly enabled: boolean;
  readonly path: string;
  readonly rows: readonly StatsRow[];
  readonly daily: readonly DailyRow[];
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

function text(value: unknown, fallback: string): string {
  return typeof value === 'string' && value !== '' ? value : fallback;
}

function counts(obj: Record<string, unknown>): Counts {
  const answered = count(obj.answered);
  const shown = count(obj.shown);
  return {
    answered,
    shown,
    base: shown > 0 ? shown : answered,
    accepted: count(obj.accepted),
    acceptedPart: count(obj.acceptedPart),
    dismissed: count(obj.dismissed),
    typedOver: count(obj.typedOver),
    acceptedChars: count(obj.acceptedChars),
  };
}

/** The answer, or undefined when it is not an object; bad rows are dropped, bad counts read as 0. */
export function parseStats(raw: unknown): StatsResult | undefined {
  const obj = record(raw);
  if (obj === undefined) {
    return undefined;
  }
  const list = (value: unknown): Record<string, unknown>[] =>
    (Array.isArray(value) ? value : []).flatMap((item) => (record(item) === undefined ? [] : [item as Record<string, unknown>]));
  return {
    days: count(obj.days),
    since: text(obj.since, ''),
    enabled: obj.enabled !== false,
    path: text(obj.path, ''),
    rows: list(obj.rows).map((row) => ({ language: text(row.language, '?'), model: text(row.model, '?'), ...counts(row) })),
    daily: list(obj.daily)
      .filter((row) => typeof row.day === 'string')
      .map((row) => {
        const c = counts(row);
        return { day: row.day as string, answered: c.answered, shown: c.shown, accepted: c.accepted, acceptedPart: c.acceptedPart, rate: rate(c) };
      }),
  };
}

/** (accepted + acceptedPart) / base (shown, or answered when nothing counted as shown); null when it is 0. */
export function rate(c: Pick<Counts, 'base' | 'accepted' | 'acceptedPart'>): number | null {
  return c.base === 0 ? null : (c.accepted + c.acceptedPart) / c.base;
}

const ZERO: Counts = { answered: 0, shown: 0, accepted: 0, acceptedPart: 0, dismissed: 0, typedOver: 0, acceptedChars: 0, base: 0 };

function add(a: Counts, b: Counts): Counts {
  return {
    answered: a.answered + b.answered,
    shown: a.shown + b.shown,
    accepted: a.accepted + b.accepted,
    acceptedPart: a.acceptedPart + b.acceptedPart,
    dismissed: a.dismissed + b.dismissed,
    typedOver: a.typedOver + b.typedOver,
    acceptedChars: a.acceptedChars + b.acceptedChars,
    base: a.base + b.base,
  };
}

/** The rows summed per `by` (language or model), most accepted characters first, then by name. */
export function totals(rows: readonly StatsRow[], by: 'language' | 'model'): [string, Counts][] {
  const sums = new Map<string, Counts>();
  for (const row of rows) {
    sums.set(row[by], add(sums.get(row[by]) ?? ZERO, row));
  }
  return [...sums.entries()].sort((a, b) => b[1].acceptedChars - a[1].acceptedChars || a[0].localeCompare(b[0]));
}

/** All rows summed. */
export function overall(rows: readonly StatsRow[]): Counts {
  return rows.reduce<Counts>((sum, row) => add(sum, row), ZERO);
}

/** "42 %", or "–" for no rate. */
export function percent(value: number | null): string {
  return value === null ? '–' : `${String(Math.round(value * 100))} %`;
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${String(c.charCodeAt(0))};`);
}

const COLUMNS: [string, (c: Counts) => string][] = [
  ['answered', (c) => String(c.answered)],
  ['shown', (c) => String(c.shown)],
  ['accepted', (c) => String(c.accepted)],
  ['accepted in part', (c) => String(c.acceptedPart)],
  ['dismissed', (c) => String(c.dismissed)],
  ['typed over', (c) => String(c.typedOver)],
  ['accepted characters', (c) => String(c.acceptedChars)],
  ['rate', (c) => percent(rate(c))],
];

function table(title: string, rows: [string, Counts][]): string {
  if (rows.length === 0) {
    return '';
  }
  const head = `<tr><th>${escapeHtml(title)}</th>${COLUMNS.map(([name]) => `<th>${name}</th>`).join('')}</tr>`;
  const body = rows.map(([name, c]) => `<tr><td>${escapeHtml(name)}</td>${COLUMNS.map(([, cell]) => `<td>${cell(c)}</td>`).join('')}</tr>`);
  return `<table class="${title}">${head}${body.join('')}</table>`;
}

function period(result: StatsResult): string {
  const all = overall(result.rows);
  const summary = result.rows.length === 0
    ? '<p>No suggestions answered in this period.</p>'
    : `<p class="summary">Acceptance rate <b>${percent(rate(all))}</b>: ${String(all.accepted)} accepted, ${String(all.acceptedPart)} accepted in part, `
      + `of ${String(all.base)} ${all.shown === 0 ? 'answered' : all.base === all.shown ? 'shown' : 'shown or answered'}; `
      + `${String(all.acceptedChars)} characters accepted.</p>`;
  return `<section class="days-${String(result.days)}"><h2>Last ${String(result.days)} days${result.since === '' ? '' : ` (since ${escapeHtml(result.since)})`}</h2>`
    + summary + table('language', totals(result.rows, 'language')) + table('model', totals(result.rows, 'model')) + '</section>';
}

const CHART = { width: 600, height: 160, top: 10, bottom: 24, left: 36 };

/** An SVG bar chart of the rate per day (a gap for a day without suggestions), 0 to 100 %. */
export function rateChart(daily: readonly DailyRow[]): string {
  const { width, height, top, bottom, left } = CHART;
  const plot = height - top - bottom;
  const step = daily.length === 0 ? 0 : (width - left) / daily.length;
  const bars = daily.map((row, i) => {
    if (row.rate === null) {
      return '';
    }
    const h = Math.max(1, Math.round(Math.min(1, Math.max(0, row.rate)) * plot));
    const x = left + i * step + step * 0.15;
    return `<rect x="${x.toFixed(1)}" y="${String(top + plot - h)}" width="${(step * 0.7).toFixed(1)}" height="${String(h)}">`
      + `<title>${escapeHtml(row.day)}: ${percent(row.rate)}</title></rect>`;
  });
  const label = (row: DailyRow | undefined, anchor: string, x: number): string =>
    (row === undefined ? '' : `<text x="${x.toFixed(1)}" y="${String(height - 6)}" text-anchor="${anchor}">${escapeHtml(row.day)}</text>`);
  const axis = [0, 50, 100].map((p) => {
    const y = top + plot - (p / 100) * plot;
    return `<line x1="${String(left)}" x2="${String(width)}" y1="${String(y)}" y2="${String(y)}" class="grid"/>`
      + `<text x="${String(left - 4)}" y="${String(y + 4)}" text-anchor="end">${String(p)} %</text>`;
  });
  return `<svg class="rate-chart" role="img" aria-label="acceptance rate per day" viewBox="0 0 ${String(width)} ${String(height)}" `
    + `width="${String(width)}" height="${String(height)}" xmlns="http://www.w3.org/2000/svg">${axis.join('')}${bars.join('')}`
    + `${label(daily[0], 'start', left)}${label(daily[daily.length - 1], 'end', width)}</svg>`;
}

const STYLE = `body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { padding: 2px 8px; border-bottom: 1px solid var(--vscode-panel-border, #8884); text-align: right; }
th:first-child, td:first-child { text-align: left; }
svg text { fill: var(--vscode-descriptionForeground, #888); font-size: 10px; }
svg rect { fill: var(--vscode-charts-blue, #3794ff); }
svg .grid { stroke: var(--vscode-panel-border, #8884); }
.note { color: var(--vscode-descriptionForeground, #888); }`;

/**
 * The whole page for the answers of each period (7 and 30 days), the chart from the longest. `shownNote` says what
 * "shown" means in this editor. The page runs no script (its Content-Security-Policy allows inline style only).
 */
export function statsHtml(results: readonly StatsResult[], shownNote: string): string {
  const longest = [...results].sort((a, b) => b.days - a.days)[0];
  const disabled = results.some((r) => !r.enabled)
    ? '<p class="off">Statistics are off (<code>infill.stats.enable</code>): nothing new is counted.</p>'
    : '';
  const where = longest === undefined || longest.path === '' ? '' : ` in <code>${escapeHtml(longest.path)}</code>`;
  const chart = longest === undefined || longest.daily.length === 0
    ? ''
    : `<h2>Acceptance rate per day (last ${String(longest.days)} days)</h2>${rateChart(longest.daily)}`;
  return `<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">`
    + `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline';">`
    + `<title>infill: statistics</title><style>${STYLE}</style></head><body>`
    + `<h1>infill: how often suggestions are taken</h1>${disabled}`
    + results.map(period).join('') + chart
    + `<p class="note">Counted on this machine only${where}, never sent anywhere. ${escapeHtml(shownNote)}</p>`
    + '</body></html>';
}
