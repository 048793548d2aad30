import assert from 'node:assert/strict';
import { openSync } from 'node:fs';
import { test } from 'node:test';
import { deployed, invoke } from '../helpers/functions.ts';
import { startNode, tempDir } from '../helpers/processes.ts';

test('sandbox - a descriptor the node inherited from its parent never reaches a handler', async () => {
  // The node gets an open host file as its fd 3, as a careless service manager might hand it.
  const fd = openSync(`${tempDir('fd')}/inherited-secret.txt`, 'w+');
  const node = await startNode({ extraFds: [fd] });
  const id = await deployed(
    node,
    `const fs = require('fs'); exports.handler = async () => fs.readdirSync('/proc/self/fd').map((f) => { try { return fs.readlinkSync('/proc/self/fd/' + f); } catch { return ''; } });`,
  );
  const r = await invoke(node, id);
  assert.equal(r.status, 200, r.text);
  assert.ok(!r.json.some((l: string) => l.includes('inherited-secret')), JSON.stringify(r.json));
  assert.match(node.output(), /closed inherited descriptors/);
  await node.stop();
});
