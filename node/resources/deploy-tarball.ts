/**
 * Tarball deploys: a .tar.gz as multipart/form-data (`curl -F file=@fn.tgz`)
 * or as a raw gzip body (`curl --data-binary @fn.tgz -H 'Content-Type:
 * application/gzip'`). The archive is read and checked in memory, from the
 * body the ingress already size-limited, before anything is recorded; then it
 * builds exactly like an inline deploy.
 */
import type { BuildJob } from '../../actors/index.ts';
import { npmManifest, pipManifest } from '../../protocol/dependencies.ts';
import type { Runtime } from '../../protocol/schemas.ts';
import { type ArchiveFile, archiveError, readTarGz, unwrapTopDir } from '../archive.ts';
import type { Route } from '../http/api.ts';
import { type Ctx, invalidField } from '../http/context.ts';
import { formBoundary, parseMultipart } from '../multipart.ts';
import type { Services } from '../services.ts';
import { accepted, manifestOf, queueBuild } from './deployments.ts';
import { mustGetEntry } from './lookups.ts';

const RAW_TYPES = new Set(['application/gzip', 'application/x-gzip', 'application/x-tar+gzip', 'application/octet-stream']);
const FILE_FIELDS = ['file', 'tarball', 'archive'];
/**
 * The build runs npm or pip on the host with the build dir as cwd and HOME,
 * so these files would configure that install (registry, cafile, find-links…).
 */
const INSTALL_CONFIG_FILES = new Set(['.npmrc', '.pip/pip.conf', '.config/pip/pip.conf']);

interface Upload {
  archive: Buffer;
  dependencies: string | undefined;
}

function uploadOf(ctx: Ctx): Upload {
  const contentType = ctx.headers['content-type'];
  const boundary = formBoundary(contentType);
  if (boundary === undefined) {
    if (!RAW_TYPES.has((contentType ?? '').split(';')[0].trim().toLowerCase())) {
      throw invalidField('content-type', 'send the archive as multipart/form-data (a file field) or as a raw body with Content-Type: application/gzip', `unsupported: ${contentType ?? 'none'}`);
    }
    if (ctx.body.length === 0) throw invalidField('body', 'the request body is empty', 'no archive');
    return { archive: ctx.body, dependencies: undefined };
  }
  const parts = parseMultipart(ctx.body, boundary);
  const fileParts = parts.filter((p) => p.filename !== undefined);
  const file = parts.find((p) => FILE_FIELDS.includes(p.name)) ?? (fileParts.length === 1 ? fileParts[0] : undefined);
  if (!file) {
    throw invalidField('file', `no archive in the form: send it in a field named ${FILE_FIELDS.join(', ')}`, fileParts.length > 1 ? 'several file parts and none named file' : 'missing');
  }
  const deps = parts.find((p) => p.name === 'dependencies' && p.filename === undefined);
  return { archive: file.data, dependencies: deps?.data.toString('utf8') };
}

/**
 * The manifest comes from the archive's own root package.json (node) or
 * requirements.txt (python) when it has one; giving the `dependencies` field
 * as well is refused rather than one of them silently ignored. An archive's
 * package.json is installed as written (so `"type": "module"` and the like
 * keep working) but held to the same registry-only rule as the field, since
 * npm resolves every dependency kind on the host, git and file: specs included.
 */
function archiveManifest(runtime: Runtime, files: ArchiveFile[], field: string | undefined): BuildJob['manifest'] {
  const file = runtime === 'node' ? 'package.json' : 'requirements.txt';
  const own = files.find((f) => f.path === file);
  if (!own) return manifestOf(runtime, field);
  if (field !== undefined && field.trim() !== '') {
    throw invalidField('dependencies', `the archive has its own ${file}; drop the dependencies field or the file`, `conflicts with the archive's ${file}`);
  }
  const text = own.data.toString('utf8');
  if (runtime === 'python') {
    const m = pipManifest(text);
    if (!m.ok) throw archiveError('manifest', m.error, file);
    return m.content.trim() === '' ? null : { file, content: m.content };
  }
  let pkg: Record<string, unknown>;
  try {
    pkg = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw archiveError('manifest', `not valid JSON (${(err as Error).message})`, file);
  }
  if (typeof pkg !== 'object' || pkg === null || Array.isArray(pkg)) throw archiveError('manifest', 'not a JSON object', file);
  for (const key of ['workspaces', 'overrides', 'bundleDependencies', 'bundledDependencies']) {
    if (key in pkg) throw archiveError('manifest', `"${key}" is not supported in a deployed package.json`, file);
  }
  let hasDeps = false;
  for (const key of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']) {
    const deps = pkg[key];
    if (deps === undefined) continue;
    if (typeof deps !== 'object' || deps === null || Array.isArray(deps)) throw archiveError('manifest', `"${key}" is not an object`, file);
    const m = npmManifest(JSON.stringify(deps));
    if (!m.ok) throw archiveError('manifest', `${key}: ${m.error}`, file);
    hasDeps ||= Object.keys(deps).length > 0;
  }
  // Without dependencies there is nothing to install; the file still ships with the code.
  return hasDeps ? { file, content: text } : null;
}

export function tarballDeployRoutes(s: Services): Route[] {
  return [
    {
      method: 'POST',
      path: '/api/v1/functions/:id/deploy',
      access: 'write',
      handler: async (ctx) => {
        const entry = mustGetEntry(s.registry, ctx.params.id);
        const fn = entry.row;
        const upload = uploadOf(ctx);
        const files = unwrapTopDir(await readTarGz(upload.archive), fn.entrypoint);
        if (!files.some((f) => f.path === fn.entrypoint)) {
          throw archiveError('missing-entrypoint', `the function's entrypoint is not in the archive (at its root, or under one top-level directory)`, fn.entrypoint);
        }
        const config = files.find((f) => INSTALL_CONFIG_FILES.has(f.path));
        if (config) throw archiveError('install-config', 'package manager configuration cannot be deployed', config.path);
        const manifest = archiveManifest(fn.runtime, files, upload.dependencies);
        return accepted(await queueBuild(s, entry, files, manifest, 'tarball', ctx.nowMs));
      },
    },
  ];
}
