/** Conformance: bad input refused with the field named and nothing changed; hostile strings stored literally; notifications. */
import { describe, expect, it } from 'vitest';
import type { JsonValue } from '../model';
import type { StoreEvent } from '../store/store';
import { jobDraft, runDraft } from './fixtures';
import { expectOasisError, type Harness } from './harness';

/** Registers the bad-input, literal-string and notification tests. */
export function inputTests(h: Harness): void {
  describe('bad input', () => {
    it('an overlong job key is refused naming draft.key; nothing is stored', async () => {
      const app = h.app();
      const key = 'k'.repeat(201);
      await expectOasisError(h.store.saveJob(jobDraft(app, key), null), 'VALIDATION', {
        field: 'draft.key',
        rule: 'max-length',
      });
      expect((await h.store.listJobs({ app })).items).toEqual([]);
    });

    it('a bad app name is refused naming the field', async () => {
      await expectOasisError(h.store.saveJob(jobDraft('bad app!', 'k'), null), 'VALIDATION', {
        field: 'draft.app',
      });
      await expectOasisError(h.store.listNodes(''), 'VALIDATION', { field: 'app' });
      await expectOasisError(h.store.countRuns('a'.repeat(65), ['pending']), 'VALIDATION', { field: 'app' });
    });

    it('unknown enum values are refused: state, trigger, block, schedule kind', async () => {
      const app = h.app();
      const bogus = 'bogus' as never;
      await expectOasisError(h.store.listRuns({ app, states: ['pending', bogus] }), 'VALIDATION', {
        field: 'filter.states[1]',
        rule: 'enum',
      });
      await expectOasisError(h.store.enqueueRuns([runDraft(app, { trigger: bogus })]), 'VALIDATION', {
        field: 'drafts[0].trigger',
      });
      await expectOasisError(h.store.enqueueRuns([runDraft(app, { block: bogus })]), 'VALIDATION', {
        field: 'drafts[0].block',
      });
      await expectOasisError(
        h.store.saveJob(jobDraft(app, 'k', { schedule: { kind: bogus } as never }), null),
        'VALIDATION',
        { field: 'draft.schedule.kind' },
      );
      expect(await h.allRuns(app)).toEqual([]);
      expect(await h.store.getJob(app, 'k')).toBeNull();
    });

    it('params over 64 KiB, a BigInt, a cycle or NaN are refused; one bad draft refuses the whole batch', async () => {
      const app = h.app();
      const big = { blob: 'x'.repeat(64 * 1024) };
      await expectOasisError(
        h.store.enqueueRuns([runDraft(app), runDraft(app, { params: big })]),
        'VALIDATION',
        {
          field: 'drafts[1].params',
          rule: 'max-bytes',
        },
      );
      await expectOasisError(
        h.store.enqueueRuns([runDraft(app, { params: { n: 10n } as unknown as JsonValue })]),
        'VALIDATION',
        { field: 'drafts[0].params.n', rule: 'json' },
      );
      const cycle: Record<string, unknown> = { a: 1 };
      cycle.self = cycle;
      await expectOasisError(
        h.store.enqueueRuns([runDraft(app, { params: cycle as JsonValue })]),
        'VALIDATION',
        { rule: 'json' },
      );
      await expectOasisError(
        h.store.enqueueRuns([runDraft(app, { params: [1, Number.NaN] })]),
        'VALIDATION',
        {
          field: 'drafts[0].params[1]',
        },
      );
      await expectOasisError(h.store.saveJob(jobDraft(app, 'k', { params: big }), null), 'VALIDATION', {
        field: 'draft.params',
      });
      expect(await h.allRuns(app)).toEqual([]);
      expect(await h.store.getJob(app, 'k')).toBeNull();
    });

    it('a bad idempotency key, page limit or batch size is refused naming the field', async () => {
      const app = h.app();
      await expectOasisError(
        h.store.enqueueRuns([
          runDraft(app),
          runDraft(app),
          runDraft(app, { idempotencyKey: 'i'.repeat(256) }),
        ]),
        'VALIDATION',
        { field: 'drafts[2].idempotencyKey' },
      );
      await expectOasisError(h.store.listRuns({ app }, { limit: 0 }), 'VALIDATION', { field: 'page.limit' });
      await expectOasisError(h.store.listRuns({ app }, { limit: 1001 }), 'VALIDATION', {
        field: 'page.limit',
      });
      await expectOasisError(
        h.store.enqueueRuns(Array.from({ length: 1001 }, () => runDraft(app))),
        'VALIDATION',
        { field: 'drafts', rule: 'max-items' },
      );
      await expectOasisError(h.store.enqueueRuns([runDraft(app, { delayMs: -5 })]), 'VALIDATION', {
        field: 'drafts[0].delayMs',
      });
      await expectOasisError(h.store.enqueueRuns([runDraft(app, { handler: 'bad\nname' })]), 'VALIDATION', {
        field: 'drafts[0].handler',
        rule: 'control-characters',
      });
      expect(await h.allRuns(app)).toEqual([]);
    });

    it('a fire whose runs belong to another job is refused and the job does not move', async () => {
      const app = h.app();
      const now = await h.store.now();
      await h.store.saveJob(jobDraft(app, 'a', { nextFireAt: now - 1 }), null);
      await expectOasisError(
        h.store.fireJobs(app, [
          {
            jobKey: 'a',
            expectedNextFireAt: now - 1,
            nextFireAt: now + 1000,
            lastFireAt: now - 1,
            runs: [runDraft(app, { jobKey: 'b' })],
          },
        ]),
        'VALIDATION',
        { field: 'fires[0].runs[0].jobKey' },
      );
      expect(await h.store.getJob(app, 'a')).toMatchObject({ nextFireAt: now - 1, lastFireAt: null });
    });
  });

  describe('hostile strings are data', () => {
    it('injection-shaped and unicode strings are stored literally and found again by exact filter', async () => {
      const app = h.app();
      const keys = [
        "x'; DROP TABLE runs; --",
        'x"; DELETE FROM jobs WHERE "1"="1',
        "redis.call('FLUSHALL')",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal is the point
        '${process.exit()} {{7*7}} %s %n',
        'ключ-名前-🚀',
        'back\\slash',
      ];
      for (const key of keys) {
        await h.store.saveJob(jobDraft(app, key, { description: key, params: { key } }), null);
        await h.enqueue(app, { jobKey: key, handler: key, idempotencyKey: key, params: { key } });
      }
      for (const key of keys) {
        expect(await h.store.getJob(app, key)).toMatchObject({ key, description: key, params: { key } });
        const runs = (await h.store.listRuns({ app, jobKey: key })).items;
        expect(runs).toHaveLength(1);
        expect(runs[0]).toMatchObject({ jobKey: key, handler: key, idempotencyKey: key, params: { key } });
        const again = await h.store.enqueueRuns([runDraft(app, { jobKey: key, idempotencyKey: key })]);
        expect(again[0]!.created).toBe(false);
        expect((await h.store.listJobs({ app, search: key })).items.map((j) => j.key)).toContain(key);
      }
      expect((await h.store.listJobs({ app })).items).toHaveLength(keys.length);
      expect(await h.allRuns(app)).toHaveLength(keys.length);
    });

    it('unicode, quotes, control characters and big numbers survive a claim and a completion', async () => {
      const app = h.app();
      const key = 'ключ-名前-🚀 "quoted" \\ back/slash';
      const text = `${key} \u0000\u0001\n\t\u2028 end`;
      const params = { text, n: 2 ** 53 - 1, f: -0.5, list: [text, null, true], nested: { [text]: text } };
      const queued = await h.enqueue(app, { handler: key, params, jobKey: key });
      const node = await h.node(app, 'n-unicode', { handlers: [key] });
      const [claimed] = await h.claimAs(node);
      expect(claimed).toMatchObject({ id: queued.id, handler: key, jobKey: key, params, state: 'running' });
      const [item] = await h.store.completeRuns([
        {
          runId: queued.id,
          nodeId: node.nodeId,
          incarnation: node.incarnation,
          outcome: 'failed',
          result: { text },
          error: { name: text, message: text },
          durationMs: 3,
          retry: { ...runDraft(app, { handler: key, params, jobKey: key }), trigger: 'retry', attempt: 2 },
        },
      ]);
      expect(item).toMatchObject({
        ok: true,
        run: {
          id: queued.id,
          handler: key,
          params,
          state: 'failed',
          result: { text },
          error: { name: text, message: text },
        },
        retry: { handler: key, jobKey: key, params, attempt: 2, state: 'pending' },
      });
      expect(item?.ok && item.run).toEqual(await h.store.getRun(queued.id));
      expect(item?.ok && item.retry).toEqual(await h.store.getRun((item?.ok && item.retry?.id) || ''));
    });
  });

  describe('notifications', () => {
    it('a subscriber hears an enqueue and a job save made through another instance (skipped when the store declares no notifications)', async (ctx) => {
      // A store without notifications (capabilities.notifications false) has nothing to hear.
      if (!h.store.capabilities.notifications) ctx.skip();
      const app = h.app();
      const listener = h.stores[h.stores.length - 1]!;
      const heard: StoreEvent[] = [];
      const unsubscribe = listener.subscribe(app, (event) => heard.push(event));
      try {
        await h.waitFor(async () => {
          // re-announce until heard: a subscription may take a moment to reach the server
          await h.store.enqueueRuns([runDraft(app)]);
          return heard.some((e) => e.type === 'runs' && e.app === app);
        }, 'a runs event');
        await h.waitFor(async () => {
          await h.store.saveJob(jobDraft(app, 'j'), 'any');
          return heard.some((e) => e.type === 'jobs' && e.app === app);
        }, 'a jobs event after saveJob');
      } finally {
        unsubscribe();
      }
    });

    it('a throwing listener does not stop other listeners or the store (skipped when the store declares no notifications)', async (ctx) => {
      // A store without notifications (capabilities.notifications false) has nothing to hear.
      if (!h.store.capabilities.notifications) ctx.skip();
      const app = h.app();
      let heard = 0;
      const off1 = h.store.subscribe(app, () => {
        throw new Error('listener failure');
      });
      const off2 = h.store.subscribe(app, () => {
        heard++;
      });
      try {
        await h.waitFor(async () => {
          await h.store.enqueueRuns([runDraft(app)]);
          return heard > 0;
        }, 'the second listener to hear');
        expect((await h.store.listRuns({ app })).items.length).toBeGreaterThan(0);
      } finally {
        off1();
        off2();
      }
    });
  });
}
