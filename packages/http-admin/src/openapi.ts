/**
 * The OpenAPI 3.1 document of the admin API, generated from the route table and its zod schemas
 * (`z.toJSONSchema`), so it cannot drift from what the handler accepts.
 */
import { OASIS_VERSION } from '@oasis/core';
import { z } from 'zod';
import { STATUS_BY_CODE } from './errors';
import type { AnyRoute } from './route';

type JsonSchema = Record<string, unknown>;

function schemaOf(schema: z.ZodType): JsonSchema {
  const out = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  delete out.$schema;
  return out;
}

const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'field', 'rule'],
      properties: {
        code: { type: 'string', enum: Object.keys(STATUS_BY_CODE) },
        message: { type: 'string' },
        field: { type: ['string', 'null'], description: 'The input at fault (body path or parameter name).' },
        rule: { type: ['string', 'null'], description: 'The rule it broke.' },
      },
    },
  },
};

function errorResponse(description: string) {
  return { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
}

/** Builds the document for the given routes. */
export function buildOpenApi(routes: readonly AnyRoute[], options: { publicMetrics: boolean }): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters: unknown[] = [];
    if (route.params !== undefined) {
      const s = schemaOf(route.params);
      for (const [name, prop] of Object.entries((s.properties ?? {}) as Record<string, JsonSchema>)) {
        parameters.push({ name, in: 'path', required: true, schema: prop });
      }
    }
    if (route.query !== undefined) {
      const s = schemaOf(route.query);
      const required = new Set((s.required ?? []) as string[]);
      for (const [name, prop] of Object.entries((s.properties ?? {}) as Record<string, JsonSchema>)) {
        const { description, ...schema } = prop;
        parameters.push({
          name,
          in: 'query',
          required: required.has(name),
          ...(description === undefined ? {} : { description }),
          schema,
        });
      }
    }
    const status = String(route.successStatus ?? 200);
    const produces = route.produces ?? 'json';
    const content =
      produces === 'sse'
        ? { 'text/event-stream': { schema: { type: 'string' } } }
        : produces === 'text'
          ? { 'text/plain': { schema: { type: 'string' } } }
          : { 'application/json': { schema: {} } };
    const isPublic = route.role === 'metrics' && options.publicMetrics;
    const role = route.role === 'metrics' ? 'viewer' : route.role;
    const responses: Record<string, unknown> = {
      [status]: { description: 'Success', content },
      '400': errorResponse('Bad input: `field` and `rule` say what'),
      ...(isPublic
        ? {}
        : { '401': errorResponse('No valid credentials'), '403': errorResponse('Role too low') }),
      '404': errorResponse('Unknown route or id'),
      ...(route.body === undefined ? {} : { '413': errorResponse('Body over the limit') }),
      ...(route.mutates ? { '409': errorResponse('Conflict (version changed, run still running…)') } : {}),
      '503': errorResponse('Store unavailable'),
    };
    const op: Record<string, unknown> = {
      operationId: `${route.method.toLowerCase()}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: route.summary,
      tags: [route.tag],
      'x-oasis-role': isPublic ? 'public' : role,
      ...(isPublic ? { security: [] } : {}),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body === undefined
        ? {}
        : {
            requestBody: {
              required: route.bodyOptional !== true,
              content: { 'application/json': { schema: schemaOf(route.body) } },
            },
          }),
      responses,
    };
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Oasis admin API',
      version: OASIS_VERSION,
      description:
        'Jobs, runs, nodes and the audit log of an Oasis app. Roles: viewer (read), operator (trigger, enable/disable, cancel, re-trigger, drain/pause/resume), admin (create, edit, copy, delete, remove node). POST requests need `content-type: application/json`.',
    },
    components: {
      schemas: { Error: ERROR_SCHEMA },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
