import { describe, expect, it } from 'vitest';
import { SseParser } from '../src/client/sse-parser';

describe('SseParser', () => {
  it('parses named events with ids, data joined by newlines, and skips comments', () => {
    const p = new SseParser();
    const events = p.push(
      'retry: 2000\n\n: keep-alive\n\nid: 7\nevent: log\ndata: {"a":1}\ndata: second\n\n',
    );
    expect(events).toEqual([{ event: 'log', data: '{"a":1}\nsecond', id: '7' }]);
    expect(p.lastEventId).toBe('7');
  });

  it('keeps a partial event across chunks, even split inside a line or a CRLF', () => {
    const p = new SseParser();
    expect(p.push('event: ru')).toEqual([]);
    expect(p.push('n\r')).toEqual([]);
    expect(p.push('\ndata: {"id":"1"}\r\n')).toEqual([]);
    expect(p.push('\r\n')).toEqual([{ event: 'run', data: '{"id":"1"}', id: null }]);
  });

  it('defaults the event name to message and accepts fields without a space or value', () => {
    const p = new SseParser();
    expect(p.push('data:x\ndata\n\n')).toEqual([{ event: 'message', data: 'x\n', id: null }]);
  });

  it('does not leak an event name into the next event', () => {
    const p = new SseParser();
    expect(p.push('event: end\n\ndata: 1\n\n')).toEqual([{ event: 'message', data: '1', id: null }]);
  });
});
