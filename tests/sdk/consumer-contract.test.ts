import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { ConsumerClient, type CreateConversationInput, type UpdateUserInput, type UpsertUserInput } from '@reusable-chat/sdk/node';
import { startStack, type TestStack } from '@reusable-chat/testing';
import type { participantInputSchema } from '../../apps/server/src/http/v1/conversations/conversations.schema.ts';
import type { updateUserBodySchema, upsertUserBodySchema } from '../../apps/server/src/http/v1/users/users.schema.ts';

/**
 * The Node consumer client's typed methods against the server's own zod schemas (SPEC: "types from the same
 * schemas as the server"). Compile time: the SDK's input types and the exported request schemas accept the same
 * bodies (`npm run typecheck` fails on drift). Run time: every method's request — path, method, query and JSON
 * body, with every optional field set and with none — is checked against the OpenAPI document the server
 * generates from the schemas of all routes, including the ones a route keeps private.
 */

// ── compile time ─────────────────────────────────────────────────────────────────────────────────────────
type Body<S extends z.ZodType> = z.input<S>;
// What the SDK lets a caller send is what the server accepts, and the SDK allows everything the server does.
expectTypeOf<UpsertUserInput>().toExtend<Body<typeof upsertUserBodySchema>>();
expectTypeOf<Body<typeof upsertUserBodySchema>>().toExtend<UpsertUserInput>();
expectTypeOf<UpdateUserInput>().toExtend<Body<typeof updateUserBodySchema>>();
expectTypeOf<Body<typeof updateUserBodySchema>>().toExtend<UpdateUserInput>();
expectTypeOf<CreateConversationInput['participants'][number]>().toExtend<Body<typeof participantInputSchema>>();
expectTypeOf<Body<typeof participantInputSchema>>().toExtend<CreateConversationInput['participants'][number]>();

// ── run time ─────────────────────────────────────────────────────────────────────────────────────────────
interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
}
interface Operation {
  parameters?: { in: string; name: string; required?: boolean }[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
}
interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

/** Shape check of a JSON value against a JSON Schema (names, required keys, types, enums; not formats or lengths). */
function problems(doc: OpenApi, value: unknown, schema: JsonSchema, at: string): string[] {
  if (schema.$ref) return problems(doc, value, doc.components!.schemas![schema.$ref.split('/').at(-1)!]!, at);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) {
    const each = alternatives.map((s) => problems(doc, value, s, at));
    return each.some((p) => p.length === 0) ? [] : each.flat();
  }
  if (schema.allOf) return schema.allOf.flatMap((s) => problems(doc, value, s, at));
  if (schema.enum && !schema.enum.includes(value)) return [`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`];
  if ('const' in schema && schema.const !== value) return [`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`];
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  if (types.length > 0 && !types.some((t) => t === actual || (t === 'integer' && Number.isInteger(value)) || (t === 'number' && actual === 'number'))) {
    return [`${at}: ${actual} where the server expects ${types.join('|')}`];
  }
  if (actual === 'array' && schema.items) return (value as unknown[]).flatMap((v, i) => problems(doc, v, schema.items!, `${at}[${i}]`));
  if (actual === 'object' && schema.properties) {
    const obj = value as Record<string, unknown>;
    const out: string[] = [];
    for (const key of schema.required ?? []) if (!(key in obj)) out.push(`${at}.${key}: required by the server, not sent`);
    for (const [key, v] of Object.entries(obj)) {
      const prop = schema.properties[key];
      if (prop) out.push(...problems(doc, v, prop, `${at}.${key}`));
      else if (schema.additionalProperties === false || schema.additionalProperties === undefined) out.push(`${at}.${key}: unknown to the server`);
    }
    return out;
  }
  return [];
}

interface Recorded {
  method: string;
  url: URL;
  body: unknown;
}

describe('sdk ConsumerClient against the server’s schemas (OpenAPI generated from the zod route schemas)', () => {
  let stack: TestStack;
  let doc: OpenApi;
  const recorded: Recorded[] = [];
  // No server behind this client: each request is recorded and answered with an empty JSON object.
  const client = new ConsumerClient({
    baseUrl: 'http://sdk.test',
    apiKey: 'rc_test_contract',
    fetch: async (input, init) => {
      recorded.push({ method: init?.method ?? 'GET', url: new URL(String(input)), body: init?.body ? JSON.parse(String(init.body)) : undefined });
      return new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } });
    },
  });

  beforeAll(async () => {
    stack = await startStack({ backend: 'pglite' });
    doc = (await stack.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as OpenApi;
  });
  afterAll(async () => {
    await stack?.close();
  });

  const id = '0b6c1f9e-3d0a-4a51-9d6f-2f1c9a7e5b10';
  const fullUser: UpsertUserInput = { external_id: 'u-1', name: 'Ann', email: 'ann@example.com', avatar_url: 'https://example.com/a.png', metadata: { plan: 'pro' }, role: 'guest' };
  const calls: [string, () => Promise<unknown>][] = [
    ['upsertUser (all fields)', () => client.upsertUser(fullUser)],
    ['upsertUser (required only)', () => client.upsertUser({ external_id: 'u-1', name: 'Ann' })],
    ['getUser', () => client.getUser('u-1')],
    ['updateUser (all fields)', () => client.updateUser('u-1', { name: 'Ann B', email: null, avatar_url: null, metadata: {}, role: null })],
    ['updateUser (none)', () => client.updateUser('u-1', {})],
    ['getUnreadCounts', () => client.getUnreadCounts('u-1')],
    ['listUserConversations', () => client.listUserConversations('u-1', { limit: 10, cursor: 'abc' })],
    ['eraseUser', () => client.eraseUser('u-1')],
    ['revokeUserSessions', () => client.revokeUserSessions('u-1')],
    ['createSession (external_id)', () => client.createSession({ external_id: 'u-1', expires_in: 3600 })],
    ['createSession (user)', () => client.createSession({ user: fullUser, expires_in: 3600 })],
    ['revokeSession', () => client.revokeSession(id)],
    [
      'createConversation (all fields)',
      () =>
        client.createConversation({
          type: 'group',
          widget: 'guest-host',
          participants: [{ external_id: 'u-1', role: 'guest' }, { external_id: 'u-2' }],
          subject: 'listing:1',
          state: 'inquiry',
          name: 'Stay',
          metadata: { a: 1 },
        }),
    ],
    ['createConversation (required only)', () => client.createConversation({ participants: [{ external_id: 'u-1' }] })],
    ['getConversation', () => client.getConversation(id)],
    ['listConversations', () => client.listConversations({ limit: 5 })],
    ['updateConversation', () => client.updateConversation(id, { subject: null, state: 'booked', name: null, status: 'closed', metadata: {} })],
    ['addParticipants', () => client.addParticipants(id, [{ external_id: 'u-3', role: 'host' }])],
    ['removeParticipant', () => client.removeParticipant(id, 'u-3')],
    ['sendMessage (user)', () => client.sendMessage(id, { content: 'hi', sender_external_id: 'u-1', client_id: 'c-1', metadata: { k: 'v' } })],
    ['sendMessage (system)', () => client.sendMessage(id, { content: 'Booking confirmed', system: true })],
    ['listMessages', () => client.listMessages(id, { limit: 20, cursor: 'abc', after_seq: 3 })],
    ['createBan', () => client.createBan({ external_id: 'u-1', reason: 'spam', expires_at: '2030-01-01T00:00:00.000Z' })],
    ['deleteBan', () => client.deleteBan('u-1')],
  ];

  it.each(calls)('%s: path, method, query and body are the server’s', async (_name, call) => {
    recorded.length = 0;
    await call();
    expect(recorded).toHaveLength(1);
    const { method, url, body } = recorded[0]!;
    const path = url.pathname;
    const template = Object.keys(doc.paths).find((t) => new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path));
    expect(template, `${method} ${path} is not a route of the server`).toBeDefined();
    const operation = doc.paths[template!]![method.toLowerCase()];
    expect(operation, `${method} ${template} is not a route of the server`).toBeDefined();

    const queryNames = (operation!.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    for (const key of url.searchParams.keys()) expect(queryNames, `query ${key} of ${method} ${template}`).toContain(key);

    const schema = operation!.requestBody?.content['application/json']?.schema;
    if (body === undefined) {
      expect(operation!.requestBody === undefined || schema === undefined || (schema.required ?? []).length === 0).toBe(true);
      return;
    }
    expect(schema, `${method} ${template} takes no body`).toBeDefined();
    expect(problems(doc, body, schema!, 'body')).toEqual([]);
  });
});
