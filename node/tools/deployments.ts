/** Deploys, versions and their records as tools. */
import { z } from 'zod';
import { deployInlineBody, deploymentListQuery, diffQuery, rollbackBody } from '../../protocol/schemas.ts';
import { validate } from '../http/context.ts';
import { deployInline, deploymentLogs, getDeployment, listDeployments } from '../resources/deployments.ts';
import { versionOps } from '../resources/versions.ts';
import { confirm, id, tool } from './tool.ts';

const fnId = z.strictObject({ function_id: id('function') });

export const deploymentTools = [
  tool({
    name: 'deploy_inline',
    title: 'Deploy code',
    description: "Deploy a function's handler from source text (the file named by its entrypoint), with optional dependencies (npm specs like lodash@^4 or requirements.txt lines). The build runs in the background: poll get_deployment until status is succeeded or failed.",
    input: fnId.extend(deployInlineBody.shape),
    permission: 'write',
    destructive: false,
    readOnly: false,
    handler: ({ s, nowMs }, { function_id, ...body }) => deployInline(s, function_id, body, nowMs),
  }),
  tool({
    name: 'get_deployment',
    title: 'Get a deployment',
    description: 'One deployment: status (queued, building, succeeded, failed), phase, code hash, error.',
    input: z.strictObject({ deployment_id: id('deployment') }),
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: ({ s }, a) => getDeployment(s, a.deployment_id),
  }),
  tool({
    name: 'get_deployment_logs',
    title: 'Get build logs',
    description: "A deployment's build logs (dependency install output, errors).",
    input: z.strictObject({ deployment_id: id('deployment') }),
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: ({ s }, a) => deploymentLogs(s, a.deployment_id),
  }),
  tool({
    name: 'list_deployments',
    title: 'List deployments',
    description: "A function's deployment history, newest first.",
    input: fnId.extend(deploymentListQuery.shape),
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: ({ s }, { function_id, ...q }) => listDeployments(s, function_id, q),
  }),
  tool({
    name: 'rollback',
    title: 'Roll back a function',
    description: 'Make an earlier succeeded version active again, by deployment_id or code_hash (exactly one). Replaces the active version: needs confirm: true.',
    input: fnId.extend(rollbackBody.shape).extend({ confirm }),
    permission: 'write',
    destructive: true,
    readOnly: false,
    handler: ({ s, nowMs }, { function_id, confirm: _c, ...target }) => {
      // The same rule as the REST body: exactly one of the two.
      const body = validate(rollbackBody, target, 'body');
      return versionOps(s).rollback(function_id, body, nowMs);
    },
  }),
  tool({
    name: 'get_source',
    title: 'Get the active source',
    description: "The active version's handler code and dependencies, in the form deploy_inline takes.",
    input: fnId,
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: ({ s }, a) => versionOps(s).source(a.function_id),
  }),
  tool({
    name: 'diff',
    title: 'Diff two versions',
    description: 'Compare the handler and manifest of two succeeded deployments of a function: per-file before/after and line counts (format json), or git-style hunks (format unified).',
    input: fnId.extend(diffQuery.shape),
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: async ({ s }, { function_id, ...q }) => {
      const d = await versionOps(s).diff(function_id, q);
      return d.format === 'unified' ? { format: 'unified', diff: d.text } : (d.json as object);
    },
  }),
];
