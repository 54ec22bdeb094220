import { afterEach, describe, expect, it } from 'vitest';
import { Harness } from '../engine/harness';

// Drain, pause and resume on the engine, on virtual time with the memory store.
describe('node states', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stopAll();
  });

  async function twoNodes() {
    h = new Harness();
    const ran: Record<string, string[]> = { a: [], b: [] };
    const nodes = ['a', 'b'].map((id) => {
      const s = h.scheduler({ nodeId: id });
      s.handle('work', async (ctx) => {
        ran[id]!.push(ctx.runId);
      });
      return s;
    });
    for (const s of nodes) await s.start();
    await h.advance(1_000);
    return { a: nodes[0]!, b: nodes[1]!, ran };
  }

  it('a drained node claims nothing new and reports draining; resume makes it claim again', async () => {
    const { a, b, ran } = await twoNodes();
    expect((await a.drain('b')).desiredState).toBe('draining');
    // b learns it at its next heartbeat and reports it at the one after.
    await h.advance(2_000);
    expect((await a.listNodes()).find((n) => n.nodeId === 'b')?.state).toBe('draining');
    for (let i = 0; i < 10; i++) await b.enqueue('work', { i });
    await h.advance(2_000);
    expect(ran.a).toHaveLength(10);
    expect(ran.b).toEqual([]);
    await a.resume('b');
    await h.advance(2_000);
    expect((await a.listNodes()).find((n) => n.nodeId === 'b')?.state).toBe('active');
    await a.pause();
    for (let i = 0; i < 5; i++) await a.enqueue('work', { i });
    await h.advance(2_000);
    expect(ran.b).toHaveLength(5);
    expect(ran.a).toHaveLength(10);
  });

  it('a paused node keeps running what it runs', async () => {
    h = new Harness();
    let finish: () => void = () => undefined;
    const s = h.scheduler({ nodeId: 'a' });
    const states: string[] = [];
    s.handle('slow', () => new Promise<void>((resolve) => (finish = resolve)));
    await s.start();
    const run = await s.enqueue('slow', {});
    await h.clock.flush();
    await s.pause();
    await h.advance(2_000);
    expect((await s.getRun(run.id))?.state).toBe('running');
    finish();
    await h.advance(10);
    states.push((await s.getRun(run.id))!.state);
    expect(states).toEqual(['succeeded']);
    const next = await s.enqueue('slow', {});
    await h.advance(2_000);
    expect((await s.getRun(next.id))?.state).toBe('pending');
  });

  it('the leader gives a drained node’s partitions to the active ones', async () => {
    const { a } = await twoNodes();
    // Let the leader's membership check run (every 10 reaps) with both nodes in the map.
    await h.advance(40_000);
    const before = await h.store.getPartitionMap('test');
    expect(
      Object.keys(before.assignments)
        .filter((id) => before.assignments[id]!.length > 0)
        .sort(),
    ).toEqual(['a', 'b']);
    await a.drain('b');
    await h.advance(40_000);
    const after = await h.store.getPartitionMap('test');
    expect(after.assignments.b ?? []).toEqual([]);
    expect(after.assignments.a).toHaveLength(64);
    const assigned = h.eventsOf('partitions:assigned').at(-1);
    expect(assigned?.generation).toBe(after.generation);
  });

  it('drain of an unknown node is NotFoundError and changes nothing', async () => {
    const { a } = await twoNodes();
    await expect(a.drain('nope')).rejects.toMatchObject({ code: expect.any(String) });
    expect((await a.listNodes()).map((n) => n.desiredState)).toEqual([null, null]);
  });
});
