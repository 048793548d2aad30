import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { ERRORS, type ErrorCode, isErrorCode, OrvaError } from '../../protocol/errors.ts';
const ROOT = resolve(import.meta.dirname, '../..');

interface DocRow {
  code: string;
  status: number;
  fault: string;
  retry: number | undefined;
  hint: string;
}

// The rows of the catalog table in docs/ERRORS.md: lines starting with "| `CODE` |".
function docRows(): DocRow[] {
  const md = readFileSync(join(ROOT, 'docs/ERRORS.md'), 'utf8');
  return md
    .split('\n')
    .filter((l) => /^\|\s*`[A-Z_]+`\s*\|/.test(l))
    .map((l) => {
      const cells = l.split('|').slice(1, -1).map((c) => c.trim());
      const retry = cells[3] === '–' || cells[3] === '-' ? undefined : Number(cells[3]);
      return { code: cells[0].replaceAll('`', ''), status: Number(cells[1]), fault: cells[2], retry, hint: cells[5] };
    });
}

test('errors - docs/ERRORS.md lists every code of protocol/errors.ts and no other', () => {
  const documented = docRows().map((r) => r.code);
  assert.equal(new Set(documented).size, documented.length, 'a code is documented twice');
  const missing = Object.keys(ERRORS).filter((c) => !documented.includes(c));
  const unknown = documented.filter((c) => !isErrorCode(c));
  assert.deepEqual(missing, [], `codes missing from docs/ERRORS.md: ${missing.join(', ')}`);
  assert.deepEqual(unknown, [], `docs/ERRORS.md names codes that do not exist: ${unknown.join(', ')}`);
});

test('errors - docs/ERRORS.md gives each code the catalog’s status, fault, retry and hint', () => {
  for (const row of docRows()) {
    if (!isErrorCode(row.code)) continue;
    const e = ERRORS[row.code] as { status: number; fault: string; hint: string; retryAfterS?: number };
    assert.equal(row.status, e.status, `${row.code} status`);
    assert.equal(row.fault, e.fault, `${row.code} fault`);
    assert.equal(row.retry, e.retryAfterS, `${row.code} retry`);
    assert.equal(row.hint, e.hint, `${row.code} hint`);
  }
});

test('errors - the issue’s required codes are all in the catalog', () => {
  for (const c of ['INVALID_JSON', 'VALIDATION', 'UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'METHOD_NOT_ALLOWED', 'NOT_ACTIVE', 'PAYLOAD_TOO_LARGE', 'TOO_MANY_REQUESTS', 'RATE_LIMITED', 'INTERNAL', 'BUILD_FAILED', 'WORKER_CRASHED', 'BUILDING', 'BUILD_QUEUE_FULL', 'POOL_AT_CAPACITY', 'MEMORY_EXHAUSTED', 'SHUTTING_DOWN', 'SANDBOX_ERROR', 'TIMEOUT', 'VERSION_GCD', 'VERSION_NOT_FOUND', 'TOOL_NAME_COLLISION', 'CONFLICT']) {
    assert.ok(isErrorCode(c), c);
  }
});

test('errors - every catalog entry is a 4xx/5xx with a hint, and 429/503 codes say when to retry', () => {
  for (const [code, e] of Object.entries(ERRORS) as Array<[ErrorCode, (typeof ERRORS)[ErrorCode] & { retryAfterS?: number }]>) {
    assert.ok(e.status >= 400 && e.status <= 599, code);
    assert.ok(e.hint.length > 0, code);
    if (e.status === 429 || e.status === 503) assert.ok(e.retryAfterS !== undefined && e.retryAfterS > 0, `${code} lacks a retry`);
    if (e.fault === 'caller') assert.ok(e.status < 500, `${code}: a caller fault must be a 4xx`);
  }
});

test('errors - the envelope carries code, message, request_id, hint, and retry_after_s/details only when set', () => {
  const plain = new OrvaError('NOT_FOUND', 'gone').envelope('req_1');
  assert.deepEqual(plain, { error: { code: 'NOT_FOUND', message: 'gone', request_id: 'req_1', hint: ERRORS.NOT_FOUND.hint } });
  const retry = new OrvaError('RATE_LIMITED', 'slow', { a: 1 }, { retryAfterS: 7, hint: 'wait' });
  assert.equal(retry.status, 429);
  assert.deepEqual(retry.envelope('req_2'), { error: { code: 'RATE_LIMITED', message: 'slow', request_id: 'req_2', hint: 'wait', retry_after_s: 7, details: { a: 1 } } });
  assert.equal(new OrvaError('SHUTTING_DOWN', 'x').envelope('r').error.retry_after_s, 1);
  assert.ok(!isErrorCode('toString') && !isErrorCode('__proto__') && !isErrorCode(undefined));
});
