import { afterEach, describe, expect, it } from 'vitest';
import { RunCancelledError, type RunContext } from '../../src/index';
import { Harness, T0 } from './harness';

// Two schedulers of one app on one store, in one process: the groundwork the cluster issue
// builds on (every node fires every partition for now).
describe('two nodes on one store', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stopAll();
  });

  it('each fire time runs exactly once; one node leads', async () => {
    h = new Harness();
    const ran: Array<[string, number]> = [];
    const nodes = ['a', 'b'].map((id) => {
      const s = h.scheduler({ nodeId: id });
      s.handle('tick', (ctx) => {
        ran.push([id, ctx.scheduledFor - T0]);
      });
      s.job({ key: 'tick', handler: 'tick', schedule: '* * * * * *', block: 'parallel' });
      return s;
    });
    for (const s of nodes) await s.start();
    await h.advance(30_000);
    const times = ran.map(([, t]) => t).sort((x, y) => x - y);
    expect(times).toEqual(Array.from({ length: 30 }, (_, i) => (i + 1) * 1_000));
    expect(nodes.filter((s) => s.isLeader)).toHaveLength(1);
    const runs = await h.runs();
    expect(runs).toHaveLength(30);
    expect(runs.every((r) => r.state === 'succeeded')).toBe(true);
  });

  it('a cancel asked on one node stops the run on the other', async () => {
    h = new Harness();
    const reasons: unknown[] = [];
    const a = h.scheduler({ nodeId: 'a' });
    a.handle(
      'long',
      (ctx: RunContext) =>
        new Promise((resolve) =>
          ctx.signal.addEventListener('abort', () => {
            reasons.push(ctx.signal.reason);
            resolve(null);
          }),
        ),
    );
    const b = h.scheduler({ nodeId: 'b', remoteHandlers: ['long'] });
    await a.start();
    await b.start();
    const run = await b.enqueue('long', {});
    await h.clock.flush();
    expect((await b.getRun(run.id))?.ownerNode).toBe('a');
    const asked = await b.cancel(run.id, 'from b');
    expect(asked).toMatchObject({ state: 'running', cancelRequested: true });
    await h.advance(1_000);
    expect(reasons[0]).toBeInstanceOf(RunCancelledError);
    expect((await b.getRun(run.id))?.state).toBe('cancelled');
  });

  it('when a node leaves, the other takes the lead', async () => {
    h = new Harness();
    const a = h.scheduler({ nodeId: 'a' });
    const b = h.scheduler({ nodeId: 'b' });
    await a.start();
    await h.clock.flush();
    await b.start();
    await h.advance(1_000);
    expect([a.isLeader, b.isLeader]).toEqual([true, false]);
    await a.stop();
    await h.advance(1_000);
    expect(b.isLeader).toBe(true);
    expect(
      h
        .eventsOf('leader:changed')
        .filter((e) => e.isLeader)
        .map((e) => e.leader?.nodeId),
    ).toEqual(['a', 'b']);
  });
});
