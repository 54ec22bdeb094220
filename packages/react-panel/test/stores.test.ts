import { afterEach, describe, expect, it, vi } from 'vitest';
import { ExternalStore } from '../src/client/external-store';
import { LogTail, logTailReducer, MAX_TAIL_LINES } from '../src/client/log-tail';
import { OasisClient } from '../src/client/oasis-client';
import { Query, queryReducer } from '../src/client/query';
import { SchedulePreview } from '../src/client/schedule-preview';
import { apiError, fakeFetch, json, SseStream, until } from './fake-api';

afterEach(() => {
  vi.useRealTimers();
});

describe('ExternalStore', () => {
  it('notifies only on real changes and tracks first and last subscribers', () => {
    const events: string[] = [];
    class Counter extends ExternalStore<{ n: number }, number> {
      constructor() {
        super({ n: 0 }, (s, d) => (d === 0 ? s : { n: s.n + d }));
      }
      protected override onFirstSubscriber() {
        events.push('first');
      }
      protected override onLastUnsubscribe() {
        events.push('last');
      }
    }
    const c = new Counter();
    const calls: number[] = [];
    const off = c.subscribe(() => calls.push(c.getSnapshot().n));
    const off2 = c.subscribe(() => {});
    c.dispatch(0);
    c.dispatch(2);
    expect(calls).toEqual([2]);
    off();
    off();
    expect(events).toEqual(['first']);
    off2();
    expect(events).toEqual(['first', 'last']);
  });
});

describe('Query', () => {
  it('keeps data while refetching and after a failed refetch', () => {
    let s = queryReducer<number>(
      { status: 'idle', data: undefined, error: null, updatedAt: 0, fetching: false },
      { type: 'fetch' },
    );
    expect(s.status).toBe('loading');
    s = queryReducer(s, { type: 'success', data: 1, at: 5 });
    s = queryReducer(s, { type: 'fetch' });
    expect(s).toMatchObject({ status: 'success', data: 1, fetching: true });
    s = queryReducer(s, { type: 'error', error: new Error('x') });
    expect(s).toMatchObject({ status: 'error', data: 1, fetching: false });
  });

  it('lets the latest read win when an older one answers later', async () => {
    const resolvers: ((v: string) => void)[] = [];
    const q = new Query<string>(() => new Promise((r) => resolvers.push(r)));
    const first = q.fetch();
    const second = q.fetch();
    resolvers[1]!('new');
    await second;
    resolvers[0]!('old');
    await first;
    expect(q.getSnapshot().data).toBe('new');
  });

  it('fetches on the first subscriber and refetches on its interval until the last one leaves', async () => {
    vi.useFakeTimers();
    let n = 0;
    const q = new Query(async () => ++n, { refetchMs: 1000 });
    const off = q.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(0);
    expect(q.getSnapshot().data).toBe(1);
    await vi.advanceTimersByTimeAsync(2000);
    expect(q.getSnapshot().data).toBe(3);
    off();
    await vi.advanceTimersByTimeAsync(5000);
    expect(n).toBe(3);
  });

  it('records a failure as error and never rejects', async () => {
    const q = new Query(async () => {
      throw new Error('down');
    });
    await expect(q.fetch()).resolves.toBeUndefined();
    expect(q.getSnapshot()).toMatchObject({ status: 'error', error: { message: 'down' } });
  });
});

describe('LogTail', () => {
  const line = (seq: number) => ({ seq, level: 'info' as const, message: `l${seq}`, fields: null, ts: seq });

  it('drops duplicate and older lines and caps how many it keeps', () => {
    let s = logTailReducer(
      { status: 'live', lines: [], run: null, endState: null, error: null },
      { type: 'lines', lines: [line(1), line(2)] },
    );
    const same = logTailReducer(s, { type: 'lines', lines: [line(2)] });
    expect(same).toBe(s);
    s = logTailReducer(s, { type: 'lines', lines: [line(2), line(3)] });
    expect(s.lines.map((l) => l.seq)).toEqual([1, 2, 3]);
    const many = Array.from({ length: MAX_TAIL_LINES + 10 }, (_, i) => line(i + 4));
    s = logTailReducer(s, { type: 'lines', lines: many });
    expect(s.lines.length).toBe(MAX_TAIL_LINES);
    expect(s.lines.at(-1)!.seq).toBe(MAX_TAIL_LINES + 13);
  });

  it('opens on subscribe, resumes after the last line when the stream breaks, and ends with the run', async () => {
    const streams: SseStream[] = [];
    const api = fakeFetch({
      'GET /x/runs/9/logs/stream': () => {
        const s = new SseStream();
        streams.push(s);
        return s.response();
      },
    });
    const tail = new LogTail(new OasisClient({ baseUrl: '/x', fetch: api.fetch }), '9', { retryMs: 1 });
    const off = tail.subscribe(() => {});
    await until(() => streams.length === 1);
    streams[0]!.event('run', { id: '9', state: 'running' });
    streams[0]!.event('log', line(1), 1);
    streams[0]!.event('log', line(2), 2);
    await until(() => tail.getSnapshot().lines.length === 2);
    expect(tail.getSnapshot().status).toBe('live');
    streams[0]!.fail();
    await until(() => streams.length === 2);
    expect(api.calls[1]!.url).toContain('after=2');
    streams[1]!.event('log', line(3), 3);
    streams[1]!.event('end', { state: 'succeeded', finishedAt: 4 });
    await until(() => tail.getSnapshot().status === 'ended');
    expect(tail.getSnapshot()).toMatchObject({ endState: 'succeeded' });
    expect(tail.getSnapshot().lines.map((l) => l.seq)).toEqual([1, 2, 3]);
    off();
  });

  it('does not retry a refused tail (4xx)', async () => {
    const api = fakeFetch({ 'GET /x/runs/1/logs/stream': () => apiError(404, 'NOT_FOUND', 'no run') });
    const tail = new LogTail(new OasisClient({ baseUrl: '/x', fetch: api.fetch }), '1', { retryMs: 1 });
    const off = tail.subscribe(() => {});
    await until(() => tail.getSnapshot().status === 'error');
    await tail.open().catch(() => {});
    expect(tail.getSnapshot().error?.message).toBe('no run');
    // One call from the subscribe, one from the explicit open: no automatic retries.
    expect(api.calls.length).toBe(2);
    off();
  });

  it('closes the stream when the last listener leaves', async () => {
    const stream = new SseStream();
    const api = fakeFetch({ 'GET /x/runs/2/logs/stream': () => stream.response() });
    const tail = new LogTail(new OasisClient({ baseUrl: '/x', fetch: api.fetch }), '2');
    const off = tail.subscribe(() => {});
    await until(() => api.calls.length === 1);
    stream.push(': hi\n\n');
    off();
    await until(() => stream.cancelled);
    expect(tail.getSnapshot().status).not.toBe('error');
  });
});

describe('SchedulePreview', () => {
  it('waits for typing to stop, asks once for the last input, and shows its times', async () => {
    vi.useFakeTimers();
    const api = fakeFetch({
      'GET /x/schedule/preview': () => json(200, { times: [1000, 2000], iso: [], tz: 'UTC' }),
    });
    const p = new SchedulePreview(new OasisClient({ baseUrl: '/x', fetch: api.fetch }), { delayMs: 300 });
    p.update({ cron: '*' });
    p.update({ cron: '* *' });
    p.update({ cron: '*/2 * * * * *', tz: ' Europe/Paris ' });
    await vi.advanceTimersByTimeAsync(299);
    expect(api.calls.length).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    await vi.waitFor(() => expect(p.getSnapshot().status).toBe('ok'));
    expect(api.calls.length).toBe(1);
    expect(api.calls[0]!.url).toBe('/x/schedule/preview?cron=*%2F2+*+*+*+*+*&tz=Europe%2FParis&count=5');
    expect(p.getSnapshot().times).toEqual([1000, 2000]);
  });

  it("keeps the API's refusal with its field, and clears on a blank cron", async () => {
    vi.useFakeTimers();
    const api = fakeFetch({
      'GET /x/schedule/preview': () =>
        apiError(400, 'VALIDATION', "cron: 'x' is not a valid cron", 'cron', 'cron'),
    });
    const p = new SchedulePreview(new OasisClient({ baseUrl: '/x', fetch: api.fetch }), { delayMs: 10 });
    p.update({ cron: 'x' });
    await vi.advanceTimersByTimeAsync(10);
    await vi.waitFor(() => expect(p.getSnapshot().status).toBe('error'));
    expect(p.getSnapshot().error).toMatchObject({ field: 'cron', rule: 'cron' });
    p.update({ cron: '  ' });
    expect(p.getSnapshot().status).toBe('empty');
  });
});
