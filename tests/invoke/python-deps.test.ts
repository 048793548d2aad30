import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { deployed, invoke } from '../helpers/functions.ts';
import { startNode, tempDir } from '../helpers/processes.ts';

// PyPI is not reachable here: build a real wheel into a local index with Debian's python.
function localWheelIndex(): string {
  const dir = tempDir('wheels');
  execFileSync('/usr/bin/python3', [
    '-c',
    `
import zipfile, hashlib, base64, sys
name, ver = 'orvagreet', '1.0.0'
files = {name + '/__init__.py': 'def greet(n):\\n    return "hello " + n\\n',
         f'{name}-{ver}.dist-info/METADATA': f'Metadata-Version: 2.1\\nName: {name}\\nVersion: {ver}\\n',
         f'{name}-{ver}.dist-info/WHEEL': 'Wheel-Version: 1.0\\nGenerator: orva-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n'}
record = []
with zipfile.ZipFile(f'{sys.argv[1]}/{name}-{ver}-py3-none-any.whl', 'w') as z:
    for path, text in files.items():
        z.writestr(path, text)
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()
        record.append(f'{path},sha256={digest},{len(text)}')
    record.append(f'{name}-{ver}.dist-info/RECORD,,')
    z.writestr(f'{name}-{ver}.dist-info/RECORD', '\\n'.join(record) + '\\n')
`,
    dir,
  ]);
  return dir;
}

test('deploy - a python dependency from a wheel index is importable inside the sandbox', async () => {
  const index = localWheelIndex();
  const node = await startNode({ env: { ORVA_PIP_ARGS: `--no-index --find-links ${index}` } });
  const id = await deployed(node, `from orvagreet import greet\ndef handler(event):\n    return {"msg": greet(event["body"])}\n`, { runtime: 'python' }, { dependencies: 'orvagreet==1.0.0' });
  const r = await invoke(node, id, { rawBody: 'orva' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { msg: 'hello orva' });
  await node.stop();
});
