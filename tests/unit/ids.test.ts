import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestId, UUID_RE, uuidv7 } from '../../protocol/ids.ts';

test('ids - uuidv7 carries its millisecond timestamp, version 7 and the RFC variant', () => {
  const id = uuidv7(0x0123456789ab);
  assert.match(id, UUID_RE);
  assert.equal(id.slice(0, 13), '01234567-89ab');
  assert.equal(id[14], '7');
  assert.ok('89ab'.includes(id[19]!), `variant digit ${id[19]}`);
});

test('ids - uuidv7 ids are unique and sort in creation order', () => {
  const ids = Array.from({ length: 5000 }, (_, i) => uuidv7(1_700_000_000_000 + Math.floor(i / 10)));
  assert.equal(new Set(ids).size, ids.length);
  for (let i = 10; i < ids.length; i += 10) assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} sorts before ${ids[i]}`);
  assert.ok(ids.every((id) => UUID_RE.test(id)));
});

test('ids - request ids are unique within a process', () => {
  const ids = Array.from({ length: 1000 }, () => requestId());
  assert.equal(new Set(ids).size, ids.length);
});
