import { afterEach, describe, expect, it } from 'vitest';
import { Harness } from './harness';

describe('smoke', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stopAll();
  });

  it('runs an enqueued task and records its result', async () => {
    h = new Harness();
    const s = h.scheduler();
    s.handle('echo', async (ctx) => ({ got: ctx.params }));
    await s.start();
    const run = await s.enqueue('echo', { a: 1 });
    await h.clock.flush();
    const after = await s.getRun(run.id);
    expect(after?.state).toBe('succeeded');
    expect(after?.result).toEqual({ got: { a: 1 } });
    expect(h.eventsOf('error')).toEqual([]);
  });
});
