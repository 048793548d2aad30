/** Per-function autoscaler tuning as tools. */
import { poolConfigBody, poolConfigQuery } from '../../protocol/schemas.ts';
import { getPoolConfig, setPoolConfig } from '../resources/pool-config.ts';
import { tool } from './tool.ts';

export const poolConfigTools = [
  tool({
    name: 'get_pool_config',
    title: 'Get pool config',
    description: "A function's warm-pool tuning: min_warm, max_warm, idle_ttl_seconds, target_concurrency, scale_to_zero.",
    input: poolConfigQuery,
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: ({ s }, a) => getPoolConfig(s, a.function_id),
  }),
  tool({
    name: 'set_pool_config',
    title: 'Set pool config',
    description: "Change some of a function's warm-pool settings; the others keep their values.",
    input: poolConfigBody,
    permission: 'write',
    destructive: false,
    readOnly: false,
    handler: ({ s, nowMs }, body) => setPoolConfig(s, body, nowMs),
  }),
];
