/** Channels (bundles of functions behind one MCP token) as tools. */
import { z } from 'zod';
import { channelCreateBody, channelFunctionsBody, channelUpdateBody } from '../../protocol/schemas.ts';
import { validate } from '../http/context.ts';
import { createChannel, deleteChannel, getChannel, listChannels, rotateChannel, setChannelFunctions, updateChannel } from '../resources/channels.ts';
import { confirm, id, tool } from './tool.ts';

const chId = z.strictObject({ channel_id: id('channel') });

export const channelTools = [
  tool({
    name: 'list_channels',
    title: 'List channels',
    description: 'Channels: name, description, token prefix, function count, last use, expiry. Never a token.',
    input: z.strictObject({}),
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: ({ s }) => listChannels(s),
  }),
  tool({
    name: 'get_channel',
    title: 'Get a channel',
    description: "A channel with its functions, their tool names and the channel's description overrides.",
    input: chId,
    permission: 'read',
    destructive: false,
    readOnly: true,
    handler: ({ s }, a) => getChannel(s, a.channel_id),
  }),
  tool({
    name: 'create_channel',
    title: 'Create a channel',
    description: 'Bundle functions under a new MCP bearer token (orva_chn_…): at /mcp the token sees one tool per function and nothing else. The token is in the answer once and never again.',
    input: channelCreateBody,
    permission: 'write',
    destructive: false,
    readOnly: false,
    handler: ({ s, nowMs }, body) => createChannel(s, body, nowMs),
  }),
  tool({
    name: 'update_channel',
    title: 'Update a channel',
    description: "Change a channel's name, description or expires_at (null: never expires); its functions stay.",
    input: chId.extend(channelUpdateBody.shape),
    permission: 'write',
    destructive: false,
    readOnly: false,
    handler: ({ s, nowMs }, { channel_id, ...patch }) => updateChannel(s, channel_id, validate(channelUpdateBody, patch, 'body'), nowMs),
  }),
  tool({
    name: 'set_channel_functions',
    title: 'Set channel functions',
    description: "Replace a channel's function set wholesale; description overrides of functions that stay are kept unless descriptions gives new ones.",
    input: chId.extend(channelFunctionsBody.shape),
    permission: 'write',
    destructive: false,
    readOnly: false,
    handler: ({ s, nowMs }, { channel_id, ...body }) => setChannelFunctions(s, channel_id, validate(channelFunctionsBody, body, 'body'), nowMs),
  }),
  tool({
    name: 'rotate_channel_token',
    title: 'Rotate a channel token',
    description: "Issue a new token for a channel; the old one stops working at once on every node. Needs confirm: true.",
    input: chId.extend({ confirm }),
    permission: 'write',
    destructive: true,
    readOnly: false,
    handler: ({ s, nowMs }, a) => rotateChannel(s, a.channel_id, nowMs),
  }),
  tool({
    name: 'delete_channel',
    title: 'Delete a channel',
    description: 'Delete a channel; its token stops working at once. Irreversible: needs confirm: true.',
    input: chId.extend({ confirm }),
    permission: 'write',
    destructive: true,
    readOnly: false,
    handler: ({ s }, a) => deleteChannel(s, a.channel_id),
  }),
];
