/** SSE framing and the test parser against each other and against the spec's examples; no node needed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SSE_PING, sseEvent } from '../../node/http/sse.ts';
import { type SseMessage, SseParser } from '../helpers/sse.ts';

/** Parse `text` fed in the given pieces. */
function parse(pieces: string[]): { messages: SseMessage[]; parser: SseParser } {
  const messages: SseMessage[] = [];
  const parser = new SseParser((m) => messages.push(m));
  for (const p of pieces) parser.feed(p);
  return { messages, parser };
}

test('sse - the parser follows the spec: multi-line data, comments, id, retry, default type, no trailing blank line', () => {
  const text = ': hello\n\ndata: YHOO\ndata: +2\ndata: 10\n\nid: 7\nevent: tick\ndata:no-space\n\nretry: 2500\nretry: soon\n\ndata: after\n\ndata: unterminated';
  const { messages, parser } = parse([text]);
  assert.deepEqual(messages, [
    { type: 'message', data: 'YHOO\n+2\n10', lastEventId: '' },
    { type: 'tick', data: 'no-space', lastEventId: '7' },
    { type: 'message', data: 'after', lastEventId: '7' },
  ]);
  assert.deepEqual(parser.comments, ['hello']);
  assert.equal(parser.retryMs, 2500);
});

test('sse - CRLF, CR and LF line ends parse the same, whatever the chunk boundaries', () => {
  const lf = 'id: a-1\nevent: x\ndata: one\ndata: two\n\n: ping\n\nevent: y\ndata: {"k":1}\n\n';
  const expected = parse([lf]).messages;
  assert.equal(expected.length, 2);
  for (const text of [lf, lf.replaceAll('\n', '\r\n'), lf.replaceAll('\n', '\r')]) {
    for (let cut = 0; cut <= text.length; cut++) {
      assert.deepEqual(parse([text.slice(0, cut), text.slice(cut)]).messages, expected, `cut at ${cut} of ${JSON.stringify(text)}`);
    }
    assert.deepEqual(parse([...text]).messages, expected, 'one character at a time');
  }
});

test('sse - a frame from sseEvent round-trips through an EventSource parser, line breaks included', () => {
  const data = 'first line\nsecond\r\nthird\rfourth';
  const { messages, parser } = parse([sseEvent('deployment', data, 'b-42'), SSE_PING]);
  assert.deepEqual(messages, [{ type: 'deployment', data: 'first line\nsecond\nthird\nfourth', lastEventId: 'b-42' }]);
  assert.deepEqual(parser.comments, ['ping']);
});
