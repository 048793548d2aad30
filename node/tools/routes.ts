/** Custom routes as tools. */
import { z } from 'zod';
import { routeCreateBody, routeDeleteQuery } from '../../protocol/schemas.ts';
import { createRoute, deleteRoute, listRoutes } from '../resources/routes.ts';
import { confirm, tool } from './tool.ts';

export const routeTools = [
  tool({
    name: 'list_routes',
    title: 'List routes',
    description: 'Custom URL paths mapped to functions.',
    input: z.strictObject({}),
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: ({ s }) => listRoutes(s),
  }),
  tool({
    name: 'create_route',
    title: 'Create a route',
    description: 'Map a URL path (exact, or a prefix ending in /*) to a function, for some methods (comma list) or all (*).',
    input: routeCreateBody,
    permission: 'write',
    destructive: false,
    readOnly: false,
    handler: ({ s, nowMs }, body) => createRoute(s, body, nowMs),
  }),
  tool({
    name: 'delete_route',
    title: 'Delete a route',
    description: 'Remove a custom route by its path. Needs confirm: true.',
    input: routeDeleteQuery.extend({ confirm }),
    permission: 'write',
    destructive: true,
    readOnly: false,
    handler: ({ s }, a) => deleteRoute(s, a.path),
  }),
];
