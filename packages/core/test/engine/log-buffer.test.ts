import { describe, expect, it } from 'vitest';
import { LogBuffer } from '../../src/context';

describe('LogBuffer', () => {
  it('holds a bounded number of lines and says how many it dropped, within the batch size', () => {
    const buf = new LogBuffer(3);
    for (let i = 0; i < 5; i++) buf.add('r1', 'info', `line ${i}`, null, i);
    const batch = buf.take(3);
    expect(batch).toHaveLength(3);
    expect(batch.map((l) => l.message)).toEqual([
      'line 0',
      'line 1',
      '2 log line(s) of this node were dropped: the store could not keep up',
    ]);
    expect(buf.take(3).map((l) => l.message)).toEqual(['line 2']);
  });
});
