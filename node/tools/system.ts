/** The node and its platform as tools: health, metrics, runtimes, the seccomp catalog. */
import { z } from 'zod';
import { listRuntimes } from '../resources/runtimes.ts';
import { listSyscalls } from '../resources/syscalls.ts';
import { health } from '../resources/system.ts';
import { tool } from './tool.ts';

const none = z.strictObject({});

export const systemTools = [
  tool({
    name: 'get_health',
    title: 'Health',
    description: 'Whether this node is up.',
    input: none,
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: () => health(),
  }),
  tool({
    name: 'get_metrics',
    title: 'Metrics',
    description: "This node's metrics: invocations, latency, errors, pools and builds (the dashboard's metrics.json).",
    input: none,
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: ({ s }) => s.metrics.snapshot(),
  }),
  tool({
    name: 'list_runtimes',
    title: 'Runtimes',
    description: 'The runtimes functions can be written in, with interpreter versions and default entrypoints.',
    input: none,
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: () => listRuntimes(),
  }),
  tool({
    name: 'list_syscalls',
    title: 'Syscall policy',
    description: 'The seccomp catalog: every system call the sandbox policies name and what each policy does with it.',
    input: none,
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: ({ s }) => listSyscalls(s),
  }),
];
