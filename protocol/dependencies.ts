/**
 * The `dependencies` field of a deploy, turned into a manifest. Only
 * registry packages are accepted: builds run on the host, so a git URL, a
 * file path or a pip option line (an index URL, `-e`, `-r`) is refused.
 */
const NPM_NAME = /^(?:@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]{0,213}$/;
const NPM_RANGE = /^[\w.^~<>=*| -]{1,100}$/;
const PIP_LINE = /^[A-Za-z0-9][A-Za-z0-9._-]*(?:\[[A-Za-z0-9,._-]+\])?\s*(?:(?:==|>=|<=|~=|!=|<|>)\s*[A-Za-z0-9.*+!-]+\s*,?\s*)*$/;

export type ManifestResult = { ok: true; file: string; content: string } | { ok: false; error: string };

/** `lodash@^4.17.21 left-pad` (space, comma or newline separated) or a JSON object → package.json. */
export function npmManifest(spec: string): ManifestResult {
  let deps: Record<string, string> = {};
  const text = spec.trim();
  if (text.startsWith('{')) {
    try {
      deps = JSON.parse(text) as Record<string, string>;
    } catch {
      return { ok: false, error: 'dependencies JSON is malformed' };
    }
  } else {
    for (const item of text.split(/[\s,]+/).filter(Boolean)) {
      const at = item.lastIndexOf('@');
      const [name, range] = at > 0 ? [item.slice(0, at), item.slice(at + 1)] : [item, '*'];
      deps[name] = range;
    }
  }
  for (const [name, range] of Object.entries(deps)) {
    if (!NPM_NAME.test(name)) return { ok: false, error: `not an npm package name: ${name}` };
    if (typeof range !== 'string' || !NPM_RANGE.test(range)) return { ok: false, error: `not a registry version range for ${name}: ${String(range)}` };
  }
  return { ok: true, file: 'package.json', content: `${JSON.stringify({ name: 'orva-function', private: true, dependencies: deps }, null, 2)}\n` };
}

/** requirements.txt lines: `name`, `name==1.2`, `name[extra]>=1,<2`; comments and blank lines allowed. */
export function pipManifest(spec: string): ManifestResult {
  const lines = spec.split('\n').map((l) => l.replace(/#.*$/, '').trim());
  for (const line of lines) {
    if (line && !PIP_LINE.test(line)) return { ok: false, error: `not a plain requirement: ${line}` };
  }
  return { ok: true, file: 'requirements.txt', content: `${lines.filter(Boolean).join('\n')}\n` };
}
