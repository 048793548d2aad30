import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deployed, invoke } from '../helpers/functions.ts';
import { startNode, tempDir } from '../helpers/processes.ts';

test('sandbox - a descriptor the node inherited from its parent never reaches a handler', async () => {
  const node = await startNode({ inheritedFile: `${tempDir('fd')}/inherited-secret.txt` });
  const id = await deployed(
    node,
    `const fs = require('fs'); exports.handler = async () => fs.readdirSync('/proc/self/fd').map((f) => { try { return fs.readlinkSync('/proc/self/fd/' + f); } catch { return ''; } });`,
  );
  const r = await invoke(node, id);
  assert.equal(r.status, 200, r.text);
  assert.ok(!r.json.some((l: string) => l.includes('inherited-secret')), JSON.stringify(r.json));
  // (Whatever else the harness itself leaked may be closed too.)
  assert.match(node.output(), /"fds":\[(\d+,)*100(,\d+)*\],"msg":"closed inherited descriptors/);
  await node.stop();
});
