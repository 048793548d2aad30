import { Worker } from 'node:worker_threads';
import { Packr } from 'msgpackr';
const w = new Worker('const {parentPort}=require("node:worker_threads"); parentPort.on("message",()=>{})', { eval: true });
const mk = (i: number) => ({ id: '019ace5f-1234-7abc-8def-0123456789ab', function_id: '019ace5f-0000-7abc-8def-0123456789ab', deployment_id: '019ace5f-1111-7abc-8def-0123456789ab', status: 'succeeded', http_status: 200, duration_ms: 1.234 + i, cold_start: false, node: 'node-abc', request_bytes: 17, response_bytes: 17, error_code: null, fault: null, started_at: '2026-11-29T09:00:00.000Z', logs: '' });
const rows = Array.from({ length: 500 }, (_, i) => mk(i));
const arrs = rows.map(r => [r.id, r.function_id, r.deployment_id, r.status, r.http_status, r.duration_ms, r.cold_start, r.node, r.request_bytes, r.response_bytes, r.error_code, r.fault, r.started_at, r.logs]);
const flat = arrs.flat();
const packr = new Packr({ useRecords: true, structuredClone: false } as any);
function bench(name: string, f: () => void) { for (let i = 0; i < 200; i++) f(); const t = performance.now(); const N = 2000; for (let i = 0; i < N; i++) f(); console.log(name, ((performance.now() - t) * 1000 / N / 500).toFixed(3), 'us/row'); }
bench('objects', () => w.postMessage(rows));
bench('arrays', () => w.postMessage(arrs));
bench('flat', () => w.postMessage(flat));
bench('msgpackr+transfer', () => { const b = packr.pack(rows); const c = new Uint8Array(b); w.postMessage(c, [c.buffer]); });
bench('msgpackr only', () => { packr.pack(rows); });
bench('JSON', () => { w.postMessage(JSON.stringify(rows)); });
bench('JSON flat', () => { w.postMessage(JSON.stringify(flat)); });
process.exit(0);
