import assert from 'node:assert/strict';
import { test } from 'node:test';
import { functionCursor, functionCursorAfter, idCursor, idCursorAfter } from '../../protocol/cursors.ts';

const ID = '019df200-7b00-7e00-9c00-aab1cd2e3f40';
const AT = '2026-12-03T08:16:04.123Z';

test('cursors - a cursor handed out decodes back to the row it ended on', () => {
  assert.deepEqual(functionCursor.parse(functionCursorAfter({ created_at: AT, id: ID })), { created_at: AT, id: ID });
  assert.equal(idCursor.parse(idCursorAfter({ id: ID })), ID);
  assert.match(idCursorAfter({ id: ID }), /^[A-Za-z0-9_-]+$/, 'safe in a query string without escaping');
});

test('cursors - garbled, hand-made or another list’s cursors are refused', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64url');
  const good = idCursorAfter({ id: ID });
  for (const bad of ['', 'x', '***', `${good}=`, `${good}.`, `${good} `, b64('not-an-id'), b64(`${ID}\n`), b64(ID.toUpperCase()), functionCursorAfter({ created_at: AT, id: ID })]) {
    assert.ok(!idCursor.safeParse(bad).success, JSON.stringify(bad));
  }
  for (const bad of ['', good, b64(`yesterday\n${ID}`), b64(`${AT}\nnot-an-id`), b64(`${AT}\n${ID}\nmore`), `${functionCursorAfter({ created_at: AT, id: ID })}A`]) {
    assert.ok(!functionCursor.safeParse(bad).success, JSON.stringify(bad));
  }
});
