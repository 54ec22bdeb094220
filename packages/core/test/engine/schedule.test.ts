import { describe, expect, it } from 'vitest';
import {
  firstFireAt,
  nextFireAfter,
  parseDuration,
  parseSchedule,
  previewFireTimes,
  ValidationError,
} from '../../src/index';
import { zoneOffsetMinutes } from '../../src/schedule';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const at = (s: string) => Date.parse(s);

function fieldOf(fn: () => unknown): { field: string; rule: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    const e = err as ValidationError;
    return { field: e.field, rule: e.rule };
  }
  throw new Error('expected a ValidationError');
}

describe('parseDuration', () => {
  it.each([
    [0, 0],
    [1500, 1500],
    ['500ms', 500],
    ['5s', 5_000],
    ['1.5s', 1_500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
  ])('%s is %d ms', (input, ms) => {
    expect(parseDuration(input, 'timeout')).toBe(ms);
  });

  it.each([['5'], ['5 sec'], ['-1s'], [-1], [Number.NaN], [Number.POSITIVE_INFINITY], [{}], ['1y']])(
    'refuses %s naming the field',
    (input) => {
      expect(fieldOf(() => parseDuration(input, 'options.delay')).field).toBe('options.delay');
    },
  );
});

describe('parseSchedule', () => {
  it('reads every form into the model', () => {
    expect(parseSchedule('*/5 * * * * *')).toEqual({ kind: 'cron', cron: '*/5 * * * * *' });
    expect(parseSchedule({ cron: '0 2 * * *', tz: 'Europe/Paris' })).toEqual({
      kind: 'cron',
      cron: '0 2 * * *',
      tz: 'Europe/Paris',
    });
    expect(parseSchedule({ cron: '0 2 * * *', tz: 'UTC' })).toEqual({ kind: 'cron', cron: '0 2 * * *' });
    expect(parseSchedule({ every: '5s' })).toEqual({ kind: 'every', ms: 5_000 });
    expect(parseSchedule({ every: 250 })).toEqual({ kind: 'every', ms: 250 });
    expect(parseSchedule({ delayAfter: '1m' })).toEqual({ kind: 'delay-after', ms: 60_000 });
    expect(parseSchedule({ at: new Date('2030-05-01T00:00:00Z') })).toEqual({
      kind: 'at',
      at: at('2030-05-01T00:00:00Z'),
    });
    expect(parseSchedule({ at: '2030-05-01T00:00:00Z' })).toEqual({
      kind: 'at',
      at: at('2030-05-01T00:00:00Z'),
    });
    expect(parseSchedule(null)).toEqual({ kind: 'manual' });
    expect(parseSchedule({ kind: 'every', ms: 1000 })).toEqual({ kind: 'every', ms: 1000 });
  });

  it.each([
    ['61 * * * *', 'schedule.cron', 'cron'],
    [{ cron: '* * * 13 *' }, 'schedule.cron', 'cron'],
    [{ cron: '* * * * * * *' }, 'schedule.cron', 'cron'],
    [{ cron: '0 0 30 2 *' }, 'schedule.cron', 'cron'],
    [{ cron: '* * * * *', tz: 'Mars/Olympus_Mons' }, 'schedule.tz', 'time-zone'],
    [{ every: '5 seconds' }, 'schedule.every', 'duration'],
    [{ every: 10 }, 'schedule.every', 'min'],
    [{ delayAfter: -5 }, 'schedule.delayAfter', 'min'],
    [{ at: 'tomorrow' }, 'schedule.at', 'time'],
    [{ every: '1s', at: 5 }, 'schedule', 'schedule'],
    [{ evry: '1s' }, 'schedule.evry', 'unknown-key'],
    [{ cron: '* * * * *', timezone: 'UTC' }, 'schedule.timezone', 'unknown-key'],
    [42, 'schedule', 'type'],
  ])('refuses %j as %s (%s)', (input, field, rule) => {
    expect(fieldOf(() => parseSchedule(input))).toEqual({ field, rule });
  });
});

describe('fire times', () => {
  it('cron with 6 fields has seconds precision; 5 fields fire on the minute', () => {
    const six = parseSchedule('*/15 * * * * *');
    expect(iso(nextFireAfter(six, 0, at('2030-01-01T00:00:01Z')))).toBe('2030-01-01T00:00:15.000Z');
    const five = parseSchedule('*/5 * * * *');
    expect(iso(nextFireAfter(five, 0, at('2030-01-01T00:00:01Z')))).toBe('2030-01-01T00:05:00.000Z');
  });

  it('cron in a time zone fires at local time', () => {
    const s = parseSchedule({ cron: '0 0 9 * * *', tz: 'America/New_York' });
    // January: New York is UTC-5.
    expect(iso(firstFireAt(s, at('2030-01-10T00:00:00Z')))).toBe('2030-01-10T14:00:00.000Z');
  });

  it('every stays aligned on its first fire time', () => {
    const s = parseSchedule({ every: '10s' });
    const anchor = at('2030-01-01T00:00:03Z');
    expect(iso(nextFireAfter(s, anchor, anchor))).toBe('2030-01-01T00:00:13.000Z');
    expect(iso(nextFireAfter(s, anchor, at('2030-01-01T00:00:47Z')))).toBe('2030-01-01T00:00:53.000Z');
    expect(iso(nextFireAfter(s, anchor, at('2030-01-01T00:00:53Z')))).toBe('2030-01-01T00:01:03.000Z');
  });

  it('first fire: every and delay-after one period after creation, at its time, manual none', () => {
    const now = at('2030-01-01T00:00:00Z');
    expect(firstFireAt(parseSchedule({ every: '1m' }), now)).toBe(now + 60_000);
    expect(firstFireAt(parseSchedule({ delayAfter: '1m' }), now)).toBe(now + 60_000);
    expect(firstFireAt(parseSchedule({ at: now + 5 }), now)).toBe(now + 5);
    expect(firstFireAt(parseSchedule(null), now)).toBeNull();
    expect(nextFireAfter(parseSchedule({ at: now + 5 }), now + 5, now + 5)).toBeNull();
  });

  it('spring forward (Europe/Paris): a local 02:30 that does not exist fires once, at 03:30 CEST', () => {
    const s = parseSchedule({ cron: '0 30 2 * * *', tz: 'Europe/Paris' });
    // 2030-03-31 is the last Sunday of March: 02:00 CET jumps to 03:00 CEST.
    expect(previewFireTimes(s, at('2030-03-29T12:00:00Z'), 4).map(iso)).toEqual([
      '2030-03-30T01:30:00.000Z', // 02:30 CET
      '2030-03-31T01:30:00.000Z', // 03:30 CEST: the missing 02:30, once
      '2030-04-01T00:30:00.000Z', // 02:30 CEST
      '2030-04-02T00:30:00.000Z',
    ]);
  });

  it('fall back (Europe/Paris): a local 02:30 that happens twice fires once, at its second occurrence', () => {
    const s = parseSchedule({ cron: '0 30 2 * * *', tz: 'Europe/Paris' });
    // 2030-10-27 is the last Sunday of October: 03:00 CEST goes back to 02:00 CET.
    expect(previewFireTimes(s, at('2030-10-25T12:00:00Z'), 3).map(iso)).toEqual([
      '2030-10-26T00:30:00.000Z', // 02:30 CEST
      '2030-10-27T01:30:00.000Z', // 02:30 CET (the second 02:30); not 00:30Z as well
      '2030-10-28T01:30:00.000Z',
    ]);
  });

  it('spring forward (America/New_York): 02:30 on 2030-03-10 fires once at 03:30 EDT', () => {
    const s = parseSchedule({ cron: '30 2 * * *', tz: 'America/New_York' });
    expect(previewFireTimes(s, at('2030-03-09T12:00:00Z'), 3).map(iso)).toEqual([
      '2030-03-10T07:30:00.000Z', // 03:30 EDT
      '2030-03-11T06:30:00.000Z', // 02:30 EDT
      '2030-03-12T06:30:00.000Z',
    ]);
  });
});

describe('zoned cron fast path', () => {
  it('agrees with croner’s own time-zone path, every 11 days over a year and around each DST change', async () => {
    const { Cron } = await import('croner');
    const zones = ['Europe/Paris', 'America/New_York', 'Australia/Lord_Howe', 'America/Sao_Paulo'];
    const patterns = ['0 30 2 * * *', '0 */20 * * * *'];
    const start = Date.UTC(2030, 0, 1);
    const end = Date.UTC(2031, 0, 1);
    const mismatches: string[] = [];
    for (const tz of zones) {
      const samples: number[] = [];
      for (let t = start; t < end; t += 11 * 86_400_000 + 3_600_000 + 7 * 60_000) samples.push(t);
      for (let t = start; t < end; t += 86_400_000) {
        if (zoneOffsetMinutes(tz, t) !== zoneOffsetMinutes(tz, t + 86_400_000)) {
          for (let u = t - 2 * 3_600_000; u < t + 30 * 3_600_000; u += 67 * 60_000) samples.push(u);
        }
      }
      for (const pattern of patterns) {
        const slow = new Cron(pattern, { timezone: tz, paused: true });
        const s = parseSchedule({ cron: pattern, tz });
        for (const t of samples) {
          const expected = slow.nextRun(new Date(t))?.getTime() ?? null;
          const got = nextFireAfter(s, 0, t);
          if (got !== expected)
            mismatches.push(`${tz} '${pattern}' after ${iso(t)}: ${iso(got)} vs ${iso(expected)}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('UTC aliases give the same times as the default', () => {
    const a = parseSchedule({ cron: '0 30 2 * * *' });
    const b = parseSchedule({ cron: '0 30 2 * * *', tz: 'Etc/UTC' });
    const t = at('2030-03-31T00:00:00Z');
    expect(nextFireAfter(b, 0, t)).toBe(nextFireAfter(a, 0, t));
  });
});

describe('cron next times are remembered per pattern', () => {
  it('answers as croner does when jobs of the same pattern, zoned or not, ask in any order', async () => {
    const { Cron } = await import('croner');
    const pattern = '0 */7 * * * *';
    const utc = parseSchedule({ cron: pattern });
    const paris = parseSchedule({ cron: pattern, tz: 'Europe/Paris' });
    const kolkata = parseSchedule({ cron: pattern, tz: 'Asia/Kolkata' });
    const times = [at('2030-06-01T10:00:00Z'), at('2030-06-01T10:03:00Z'), at('2030-06-01T10:00:00Z')];
    for (const t of [...times, ...times.reverse()]) {
      for (const [s, tz] of [
        [utc, undefined],
        [paris, 'Europe/Paris'],
        [kolkata, 'Asia/Kolkata'],
        [utc, undefined],
      ] as const) {
        const croner = new Cron(pattern, { ...(tz ? { timezone: tz } : { utcOffset: 0 }), paused: true });
        expect(nextFireAfter(s, 0, t)).toBe(croner.nextRun(new Date(t))?.getTime() ?? null);
      }
    }
  });

  it('parsed cron schedules of one pattern are one shared, frozen value', () => {
    const a = parseSchedule({ cron: '0 5 * * *', tz: 'Europe/Paris' });
    const b = parseSchedule({ cron: '0  5 * * *', tz: 'Europe/Paris' });
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(parseSchedule({ cron: '0 5 * * *' })).not.toBe(a);
  });
});
