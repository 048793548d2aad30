/**
 * Line diffs for the versions view: Myers' O((N+M)·D) algorithm, and a
 * git-style unified rendering with three lines of context.
 */
export type Edit = { op: '=' | '-' | '+'; line: string };

export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export function diffLines(a: string[], b: string[]): Edit[] {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  outer: for (let d = 0; d <= max; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) break outer;
    }
  }
  // Walk the trace back from (n, m) to recover the edits.
  const edits: Edit[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const vd = trace[d];
    const k = x - y;
    const prevK = k === -d || (k !== d && vd[offset + k - 1] < vd[offset + k + 1]) ? k + 1 : k - 1;
    const prevX = vd[offset + prevK];
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) edits.push({ op: '=', line: a[--x] }), y--;
    if (d > 0) {
      if (x === prevX) edits.push({ op: '+', line: b[--y] });
      else edits.push({ op: '-', line: a[--x] });
    }
  }
  return edits.reverse();
}

/** `@@ -l,s +l,s @@` hunks with `context` unchanged lines around each change. */
export function unifiedHunks(edits: Edit[], context = 3): string {
  const out: string[] = [];
  let i = 0;
  const aLine = new Int32Array(edits.length + 1);
  const bLine = new Int32Array(edits.length + 1);
  for (let j = 0; j < edits.length; j++) {
    aLine[j + 1] = aLine[j] + (edits[j].op !== '+' ? 1 : 0);
    bLine[j + 1] = bLine[j] + (edits[j].op !== '-' ? 1 : 0);
  }
  while (i < edits.length) {
    while (i < edits.length && edits[i].op === '=') i++;
    if (i >= edits.length) break;
    const start = Math.max(0, i - context);
    let end = i;
    // Extend while the next change is within 2·context unchanged lines.
    for (;;) {
      while (end < edits.length && edits[end].op !== '=') end++;
      let next = end;
      while (next < edits.length && edits[next].op === '=') next++;
      if (next < edits.length && next - end <= 2 * context) end = next;
      else break;
    }
    const stop = Math.min(edits.length, end + context);
    const slice = edits.slice(start, stop);
    const aCount = slice.filter((e) => e.op !== '+').length;
    const bCount = slice.filter((e) => e.op !== '-').length;
    const aStart = aCount === 0 ? aLine[start] : aLine[start] + 1;
    const bStart = bCount === 0 ? bLine[start] : bLine[start] + 1;
    out.push(`@@ -${aStart},${aCount} +${bStart},${bCount} @@`);
    for (const e of slice) out.push(`${e.op === '=' ? ' ' : e.op}${e.line}`);
    i = stop;
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
