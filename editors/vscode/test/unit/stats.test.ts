import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Counts, parseStats, percent, rate, rateChart, type StatsResult, statsHtml, totals } from '../../src/core/stats';

const row = (language: string, model: string, c: Partial<Counts>): Record<string, unknown> => ({
  language, model, answered: 0, shown: 0, accepted: 0, acceptedPart: 0, dismissed: 0, typedOver: 0, acceptedChars: 0, rate: null, ...c,
});

const RAW = {
  days: 7,
  since: '2026-11-30',
  enabled: true,
  path: '/home/u/.local/state/infill-ls/stats.sqlite3',
  rows: [
    row('python', 'codellama-7b.Q4_K_M.gguf', { answered: 40, accepted: 8, acceptedPart: 4, acceptedChars: 300 }),
    row('typescript', 'codellama-7b.Q4_K_M.gguf', { answered: 10, accepted: 1, acceptedChars: 20 }),
    row('python', 'SmolLM2-135M.gguf', { answered: 10, shown: 5, accepted: 1, acceptedPart: 1, acceptedChars: 50, dismissed: 2, typedOver: 1 }),
  ],
  daily: [
    { day: '2026-12-05', answered: 20, shown: 0, accepted: 5, acceptedPart: 0, rate: 0.25 },
    { day: '2026-12-06', answered: 0, shown: 0, accepted: 0, acceptedPart: 0, rate: null },
  ],
};

function parsed(raw: unknown = RAW): StatsResult {
  const result = parseStats(raw);
  assert.ok(result !== undefined);
  return result;
}

describe('infill/stats answer', () => {
  it('reads the contract\'s JSON', () => {
    const result = parsed();
    assert.equal(result.days, 7);
    assert.equal(result.since, '2026-11-30');
    assert.equal(result.rows.length, 3);
    assert.deepEqual(result.daily.map((d) => [d.day, d.rate]), [['2026-12-05', 0.25], ['2026-12-06', null]]);
  });

  const bad: [string, unknown, Partial<StatsResult> | undefined][] = [
    ['not an object', 'nope', undefined],
    ['null', null, undefined],
    ['no rows or days', {}, { days: 0, since: '', enabled: true, path: '', rows: [], daily: [] }],
    ['enabled false', { enabled: false, rows: [] }, { enabled: false }],
  ];
  for (const [name, raw, expected] of bad) {
    it(`reads ${name}`, () => {
      const result = parseStats(raw);
      if (expected === undefined) {
        assert.equal(result, undefined);
      } else {
        assert.ok(result !== undefined);
        for (const [key, value] of Object.entries(expected)) {
          assert.deepEqual(result[key as keyof StatsResult], value, key);
        }
      }
    });
  }

  it('drops rows that are not objects and reads bad counts as 0', () => {
    const result = parsed({ rows: [3, row('go', 'm', { answered: -2, accepted: Number.NaN, shown: 'x' as unknown as number })] });
    assert.equal(result.rows.length, 1);
    assert.deepEqual([result.rows[0]?.answered, result.rows[0]?.accepted, result.rows[0]?.shown], [0, 0, 0]);
  });
});

describe('acceptance rate', () => {
  const cases: [string, Partial<Counts>, number | null][] = [
    ['over shown when something was shown', { answered: 10, shown: 4, accepted: 1, acceptedPart: 1 }, 0.5],
    ['over answered when nothing counted as shown (VS Code)', { answered: 10, shown: 0, accepted: 2, acceptedPart: 1 }, 0.3],
    ['none when nothing was answered', { answered: 0, shown: 0, accepted: 0, acceptedPart: 0 }, null],
  ];
  for (const [name, counts, expected] of cases) {
    it(name, () => {
      assert.equal(rate(parsed({ rows: [row('py', 'm', counts)] }).rows[0] ?? { base: -1, accepted: 0, acceptedPart: 0 }), expected);
    });
  }

  it('a sum of rows sums each row\'s own base (shown from one client, answered from another)', () => {
    // python/codellama: 12 of 40 answered; typescript: 1 of 10 answered; python/SmolLM2: 2 of 5 shown.
    const python = totals(parsed().rows, 'language')[0];
    assert.ok(python !== undefined);
    assert.equal(python[1].base, 45);
    assert.equal(rate(python[1]), 14 / 45);
  });

  it('prints as a whole percentage, or a dash', () => {
    assert.deepEqual([percent(0.256), percent(1), percent(null)], ['26 %', '100 %', '–']);
  });
});

describe('totals per language and per model', () => {
  it('sums the rows per language, most accepted characters first', () => {
    const byLanguage = totals(parsed().rows, 'language');
    assert.deepEqual(byLanguage.map(([name, c]) => [name, c.answered, c.accepted, c.acceptedPart, c.acceptedChars]), [
      ['python', 50, 9, 5, 350],
      ['typescript', 10, 1, 0, 20],
    ]);
  });

  it('sums the rows per model', () => {
    const byModel = totals(parsed().rows, 'model');
    assert.deepEqual(byModel.map(([name, c]) => [name, c.answered, c.acceptedChars]), [
      ['codellama-7b.Q4_K_M.gguf', 50, 320],
      ['SmolLM2-135M.gguf', 10, 50],
    ]);
  });
});

describe('the statistics page', () => {
  const month = parsed({ ...RAW, days: 30, since: '2026-11-07' });
  const html = statsHtml([parsed(), month], 'VS Code tells an extension nothing about what it shows.');

  it('has a section per period with its rate, and tables per language and per model', () => {
    for (const days of [7, 30]) {
      assert.match(html, new RegExp(`<section class="days-${String(days)}"><h2>Last ${String(days)} days`));
    }
    // Overall: 8 + 4 + 1 + 1 + 1 = 15 accepted of 40 + 10 answered and 5 shown.
    assert.match(html, /Acceptance rate <b>27 %<\/b>: 10 accepted, 5 accepted in part, of 55 shown or answered; 370 characters accepted\./);
    assert.match(html, /<table class="language"><tr><th>language<\/th>/);
    assert.match(html, /<tr><td>python<\/td><td>50<\/td><td>5<\/td><td>9<\/td><td>5<\/td><td>2<\/td><td>1<\/td><td>350<\/td>/);
    assert.match(html, /<table class="model">.*<td>codellama-7b\.Q4_K_M\.gguf<\/td>/);
  });

  it('draws the rate per day of the longest period: a bar per day with suggestions, a gap for the others', () => {
    assert.match(html, /Acceptance rate per day \(last 30 days\)/);
    const bars = [...html.matchAll(/<rect [^>]*><title>([^<]*)<\/title><\/rect>/g)].map((m) => m[1]);
    assert.deepEqual(bars, ['2026-12-05: 25 %']);
  });

  it('says where the numbers are kept, and what "shown" means here', () => {
    assert.match(html, /Counted on this machine only in <code>\/home\/u\/\.local\/state\/infill-ls\/stats\.sqlite3<\/code>/);
    assert.match(html, /VS Code tells an extension nothing about what it shows\./);
  });

  it('runs no script', () => {
    assert.doesNotMatch(html, /<script/i);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline';"/);
  });

  it('escapes names from the file (a language or model name is not HTML)', () => {
    const page = statsHtml([parsed({ ...RAW, rows: [row('<img src=x>', 'a&b', { answered: 1 })] })], '');
    assert.doesNotMatch(page, /<img/);
    assert.match(page, /&#60;img src=x&#62;/);
    assert.match(page, /a&#38;b/);
  });

  it('says when statistics are off, and when nothing was answered', () => {
    const page = statsHtml([parsed({ ...RAW, enabled: false, rows: [], daily: [] })], '');
    assert.match(page, /Statistics are off \(<code>infill\.stats\.enable<\/code>\)/);
    assert.match(page, /No suggestions answered in this period\./);
    assert.doesNotMatch(page, /<svg/);
  });

  it('scales bars from 0 to 100 %', () => {
    const svg = rateChart([{ day: 'd1', answered: 1, shown: 0, accepted: 1, acceptedPart: 0, rate: 1 }, { day: 'd2', answered: 2, shown: 0, accepted: 1, acceptedPart: 0, rate: 0.5 }]);
    const heights = [...svg.matchAll(/<rect [^>]*height="(\d+)"/g)].map((m) => Number(m[1]));
    assert.deepEqual(heights, [126, 63]);
  });
});
