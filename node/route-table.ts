/**
 * Custom routes in memory, for the invoke path. Precedence: an exact route
 * wins; otherwise the longest prefix route (`/hooks/*`) that contains the
 * path. Rebuilt from SQLite whenever a route command is applied.
 */
import type { Store } from './store/store.ts';
import type { RouteRow } from './store/rows.ts';

export interface RouteMatch {
  route: RouteRow;
  /** The path below the route's mount: `/` for an exact route. */
  subPath: string;
}

export class RouteTable {
  private exact = new Map<string, RouteRow>();
  /** Longest prefix first. */
  private prefixes: Array<{ prefix: string; route: RouteRow }> = [];

  constructor(private readonly store: Store) {
    this.reload();
  }

  reload(): void {
    const exact = new Map<string, RouteRow>();
    const prefixes: Array<{ prefix: string; route: RouteRow }> = [];
    for (const r of this.store.routes()) {
      if (r.path.endsWith('/*')) prefixes.push({ prefix: r.path.slice(0, -2), route: r });
      else exact.set(r.path, r);
    }
    prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
    this.exact = exact;
    this.prefixes = prefixes;
  }

  match(path: string): RouteMatch | null {
    const e = this.exact.get(path);
    if (e) return { route: e, subPath: '/' };
    for (const { prefix, route } of this.prefixes) {
      if (path === prefix || path.startsWith(`${prefix}/`)) return { route, subPath: path.slice(prefix.length) || '/' };
    }
    return null;
  }

  static allows(route: RouteRow, method: string): boolean {
    return route.methods === '*' || route.methods.split(',').includes(method);
  }
}
