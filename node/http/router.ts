/**
 * A small path router for the management API: `:name` segments become params.
 * It distinguishes "no such path" (404) from "path exists, wrong method" (405).
 */
export type RouteMatch<R> = { kind: 'found'; route: R; params: Record<string, string> } | { kind: 'method'; allow: string[] } | { kind: 'none' };

interface Entry<R> {
  method: string;
  segments: string[];
  route: R;
}

export class Router<R> {
  private readonly entries: Entry<R>[] = [];

  add(method: string, pattern: string, route: R): void {
    this.entries.push({ method, segments: pattern.split('/').filter(Boolean), route });
  }

  match(method: string, path: string): RouteMatch<R> {
    const parts = path.split('/').filter(Boolean);
    const allow: string[] = [];
    let best: { entry: Entry<R>; params: Record<string, string>; literals: number } | null = null;
    for (const e of this.entries) {
      const params = matchSegments(e.segments, parts);
      if (params === null) continue;
      if (e.method === method || (method === 'HEAD' && e.method === 'GET')) {
        // The most literal pattern wins (`/functions/search` over `/functions/:id`), whatever the order routes were added in.
        const literals = e.segments.filter((s) => !s.startsWith(':')).length;
        if (best === null || literals > best.literals) best = { entry: e, params, literals };
        continue;
      }
      if (!allow.includes(e.method)) allow.push(e.method);
    }
    if (best) return { kind: 'found', route: best.entry.route, params: best.params };
    return allow.length > 0 ? { kind: 'method', allow } : { kind: 'none' };
  }
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | null {
  if (pattern.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p.startsWith(':')) {
      let value: string;
      try {
        value = decodeURIComponent(parts[i]);
      } catch {
        return null;
      }
      params[p.slice(1)] = value;
    } else if (p !== parts[i]) return null;
  }
  return params;
}
