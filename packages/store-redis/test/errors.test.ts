import { ConflictError, FencedError, NotFoundError, StoreError, StoreUnavailableError } from '@oasis/core';
import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { toOasisError } from '../src/errors';

const reply = (message: string) => new ReplyError(message);

describe('toOasisError', () => {
  it('maps the error replies of the Lua steps to typed errors, without the script location', () => {
    const fenced = toOasisError(
      reply('FENCED node n1 incarnation 3 is not current script: 6b42a, on @user_script:1.'),
      'claimRuns',
    );
    expect(fenced).toBeInstanceOf(FencedError);
    expect(fenced).toMatchObject({ scope: 'node', message: 'node n1 incarnation 3 is not current' });
    expect(toOasisError(reply('FENCED leader epoch 4 is stale'), 'x')).toMatchObject({ scope: 'leader' });
    expect(toOasisError(reply('FENCED run 1:a is lost'), 'x')).toMatchObject({ scope: 'run' });
    expect(toOasisError(reply('CONFLICT job k is at version 2, not 1'), 'x')).toBeInstanceOf(ConflictError);
    const missing = toOasisError(reply('NOTFOUND run 17:app'), 'x');
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ entity: 'run', id: '17:app' });
  });

  it('maps a server that cannot serve or be reached to StoreUnavailableError, anything else to StoreError', () => {
    for (const err of [
      reply('LOADING Redis is loading the dataset in memory'),
      reply('MASTERDOWN Link with MASTER is down'),
      new Error('Connection is closed.'),
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
      new Error('Command timed out'),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
    ]) {
      const mapped = toOasisError(err, 'now');
      expect(mapped, err.message).toBeInstanceOf(StoreUnavailableError);
      expect(mapped.cause).toBe(err);
    }
    const oom = reply('OOM command not allowed when used memory > maxmemory');
    const mapped = toOasisError(oom, 'enqueueRuns');
    expect(mapped).toBeInstanceOf(StoreError);
    expect(mapped.cause).toBe(oom);
    expect(mapped.message).toContain('enqueueRuns');
  });
});
