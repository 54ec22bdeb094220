import { afterEach, describe, expect, it } from 'vitest';
import { rendezvousPick } from '../../src/cluster/rendezvous';
import { type Scheduler, ValidationError } from '../../src/index';
import { Harness } from '../engine/harness';

// enqueue({ routing }) and manual triggers of consistent-hash jobs, on virtual time.
describe('routing of enqueued tasks and manual triggers', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stopAll();
  });

  /** Two started nodes a and b that both run `w`, recording which node ran which params. */
  async function twoNodes(): Promise<{ a: Scheduler; b: Scheduler; ran: Map<string, string> }> {
    h = new Harness();
    const ran = new Map<string, string>();
    const nodes = ['a', 'b'].map((id) => {
      const s = h.scheduler({ nodeId: id });
      s.handle('w', (ctx) => {
        ran.set(ctx.runId, id);
      });
      return s;
    });
    for (const s of nodes) await s.start();
    await h.advance(1_000);
    return { a: nodes[0]!, b: nodes[1]!, ran };
  }

  const pick = (key: string) =>
    rendezvousPick(key, [
      { nodeId: 'a', weight: 1 },
      { nodeId: 'b', weight: 1 },
    ])!.nodeId;

  it('routing.key: the same key always goes to its consistent-hash node; keys spread over the nodes', async () => {
    const { a, b, ran } = await twoNodes();
    const keys = Array.from({ length: 12 }, (_, i) => `tenant:${i}`);
    const runs = [];
    for (const key of keys) {
      for (const s of [a, b]) runs.push({ key, run: await s.enqueue('w', {}, { routing: { key } }) });
    }
    await h.advance(1_000);
    for (const { key, run } of runs) {
      expect(run).toMatchObject({ routing: 'consistent-hash', targetNode: pick(key) });
      expect(ran.get(run.id)).toBe(pick(key));
    }
    expect(new Set(keys.map(pick))).toEqual(new Set(['a', 'b']));
  });

  it('routing.node: the task runs on that node', async () => {
    const { a, ran } = await twoNodes();
    const runs = [];
    for (let i = 0; i < 5; i++) runs.push(await a.enqueue('w', { i }, { routing: { node: 'b' } }));
    await h.advance(1_000);
    for (const run of runs) {
      expect(run.targetNode).toBe('b');
      expect(ran.get(run.id)).toBe('b');
    }
  });

  it('routing.node of a node that is not there: any node runs it after the dispatch timeout', async () => {
    const { a, ran } = await twoNodes();
    const run = await a.enqueue('w', {}, { routing: { node: 'ghost' } });
    await h.advance(1_000);
    expect(ran.has(run.id)).toBe(false);
    await h.advance(60_000);
    expect(['a', 'b']).toContain(ran.get(run.id));
  });

  it('a bad routing option is a ValidationError naming the field, and nothing is stored', async () => {
    const { a } = await twoNodes();
    const bad: Array<[unknown, string]> = [
      [{ key: 'k', node: 'b' }, 'options.routing'],
      [{}, 'options.routing'],
      ['b', 'options.routing'],
      [{ key: '' }, 'options.routing.key'],
      [{ node: '' }, 'options.routing.node'],
      [{ node: 42 }, 'options.routing.node'],
      [{ key: 'k', strategy: 'random' }, 'options.routing.strategy'],
    ];
    for (const [routing, field] of bad) {
      const error = await a.enqueue('w', {}, { routing: routing as never }).catch((e: unknown) => e);
      expect(error, JSON.stringify(routing)).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe(field);
    }
    expect(await h.runs()).toEqual([]);
  });

  it('a manual trigger of a consistent-hash job goes where its routing key says, as its fires do', async () => {
    const { a, ran } = await twoNodes();
    // A routing key whose node differs from the job key's, so the test tells them apart.
    const jobKey = 'report';
    const routingKey = Array.from({ length: 50 }, (_, i) => `shard-${i}`).find(
      (k) => pick(k) !== pick(jobKey),
    )!;
    await a.jobs.upsert({
      key: jobKey,
      handler: 'w',
      schedule: { every: '1h' },
      routing: { strategy: 'consistent-hash', key: routingKey },
    });
    const [run] = await a.jobs.trigger(jobKey);
    expect(run).toMatchObject({
      trigger: 'manual',
      routing: 'consistent-hash',
      targetNode: pick(routingKey),
    });
    await h.advance(1_000);
    expect(ran.get(run!.id)).toBe(pick(routingKey));
    const again = await a.retrigger(run!.id);
    expect(again).toMatchObject({ trigger: 'manual', parentRunId: run!.id, targetNode: pick(routingKey) });
  });
});
