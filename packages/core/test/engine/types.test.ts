import { describe, expectTypeOf, it } from 'vitest';
import type {
  EnqueueOptions,
  JobRecord,
  JobSpec,
  OasisEvents,
  RunContext,
  RunRecord,
  RunSucceededEvent,
  ScheduleInput,
  Scheduler,
} from '../../src/index';

// Pins the public shape of the engine: an accidental API change fails the typecheck.
describe('public types', () => {
  it('pins the scheduler API', () => {
    expectTypeOf<Scheduler['enqueue']>().parameters.toMatchTypeOf<[string, unknown, EnqueueOptions?]>();
    expectTypeOf<ReturnType<Scheduler['enqueue']>>().toEqualTypeOf<Promise<RunRecord>>();
    expectTypeOf<ReturnType<Scheduler['cancel']>>().toEqualTypeOf<Promise<RunRecord>>();
    expectTypeOf<ReturnType<Scheduler['retrigger']>>().toEqualTypeOf<Promise<RunRecord>>();
    expectTypeOf<ReturnType<Scheduler['jobs']['create']>>().toEqualTypeOf<Promise<JobRecord>>();
    expectTypeOf<ReturnType<Scheduler['jobs']['trigger']>>().toEqualTypeOf<Promise<RunRecord[]>>();
    expectTypeOf<OasisEvents['run:succeeded']>().toEqualTypeOf<[RunSucceededEvent]>();
    expectTypeOf<RunContext<{ a: number }>['params']>().toEqualTypeOf<{ a: number }>();
    expectTypeOf<RunContext['signal']>().toEqualTypeOf<AbortSignal>();
    expectTypeOf<JobSpec['schedule']>().toEqualTypeOf<ScheduleInput | undefined>();
    expectTypeOf<'*/5 * * * * *'>().toMatchTypeOf<ScheduleInput>();
    expectTypeOf<{ every: '5s' }>().toMatchTypeOf<ScheduleInput>();
  });
});
