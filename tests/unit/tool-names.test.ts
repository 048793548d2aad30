import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { RESERVED_TOOL_PREFIXES, toolName, toolNameCollisions } from '../../protocol/tool-names.ts';

// The tool name of `fn`, failing the test if the sanitiser refuses it.
const named = (fn: string) => {
  const r = toolName(fn);
  assert.ok(r.ok, `${fn}: ${r.ok ? '' : r.error}`);
  return r.name;
};

test('tool names - lower-case, [a-z0-9_] only, runs collapsed, edges trimmed', () => {
  const table: Array<[string, string]> = [
    ['hello', 'hello'],
    ['my-fn', 'my_fn'],
    ['my_fn', 'my_fn'],
    ['My.Fn', 'my_fn'],
    ['a--b', 'a_b'],
    ['a - b', 'a_b'],
    ['-edge-', 'edge'],
    ['__x__', 'x'],
    ['send email!', 'send_email'],
  ];
  for (const [fn, tool] of table) assert.equal(named(fn), tool, fn);
});

test('tool names - a leading digit gets fn_', () => {
  assert.equal(named('2fa-check'), 'fn_2fa_check');
  assert.equal(named('007'), 'fn_007');
  assert.equal(named('-9lives'), 'fn_9lives');
});

test('tool names - unicode becomes _ one code point at a time, and a name of none of [a-z0-9] is refused', () => {
  assert.equal(named('héllo'), 'h_llo');
  assert.equal(named('café-crème'), 'caf_cr_me');
  assert.equal(named('emoji-😀-fn'), 'emoji_fn');
  assert.equal(named('ÄBC'), 'bc');
  for (const fn of ['', '---', '日本語', '😀']) assert.equal(toolName(fn).ok, false, fn);
});

test('tool names - reserved prefixes are refused, before and after sanitising', () => {
  for (const p of RESERVED_TOOL_PREFIXES) {
    const r = toolName(`${p}thing`);
    assert.equal(r.ok, false, p);
    assert.match(r.ok ? '' : r.error, new RegExp(`reserved prefix ${p}`));
  }
  for (const fn of ['mcp-tool', 'Claude.helper', 'CURSOR-x', 'system--info', 'default-fn', 'chatgpt-1']) assert.equal(toolName(fn).ok, false, fn);
  // Only a prefix: the word elsewhere, or without its underscore, is fine.
  for (const fn of ['my-mcp-tool', 'mcp', 'systems-check', 'defaults']) assert.ok(toolName(fn).ok, fn);
});

test('tool names - over 63 characters keep 54, then _ and 8 hex of a hash of the original', () => {
  const exactly63 = 'a'.repeat(63);
  assert.equal(named(exactly63), exactly63);
  const long = `${'b'.repeat(60)}-tail`;
  const tool = named(long);
  assert.equal(tool.length, 63);
  assert.equal(tool, `${'b'.repeat(54)}_${createHash('sha256').update(long).digest('hex').slice(0, 8)}`);
  // Two long names that share their first 54 characters still differ.
  assert.notEqual(named(`${'c'.repeat(64)}-one`), named(`${'c'.repeat(64)}-two`));
  // The leading-digit prefix counts toward the length.
  assert.equal(named(`9${'d'.repeat(61)}`).length, 63);
  for (const fn of [long, `9${'d'.repeat(61)}`, `${'é'.repeat(40)}x${'y'.repeat(80)}`]) assert.match(named(fn), /^[a-z][a-z0-9_]{0,62}$/, fn);
});

test('tool names - every result is a valid MCP tool name', () => {
  for (const fn of ['a', 'Z', '0', 'a-b-c', `x${'-'.repeat(100)}y`, 'ünïcödé-nämé', `${'9'.repeat(100)}`]) assert.match(named(fn), /^[a-z][a-z0-9_]{0,62}$/, fn);
});

test('tool names - collisions after sanitising are grouped with both functions', () => {
  const fns = [
    { id: '1', name: 'my-fn' },
    { id: '2', name: 'my_fn' },
    { id: '3', name: 'other' },
    { id: '4', name: 'My--Fn' },
    { id: '5', name: 'mcp-refused' },
    { id: '6', name: 'mcp_refused' },
  ];
  assert.deepEqual(toolNameCollisions(fns), [{ name: 'my_fn', function_ids: ['1', '2', '4'], function_names: ['my-fn', 'my_fn', 'My--Fn'] }]);
  assert.deepEqual(toolNameCollisions([{ id: '1', name: 'a' }, { id: '2', name: 'b' }]), []);
});
