/**
 * The Fastify mount, a plugin registered with a prefix:
 * `app.register(fastifyAdmin, { prefix: '/admin/oasis', scheduler, authorize })`.
 * Not wrapped in `fastify-plugin`: its content-type parser and routes stay inside its own
 * encapsulated context and never touch the host's. It only translates requests; every decision
 * is the handler core's.
 */
import type { Scheduler } from '@oasis/core';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AdminConfigError } from './errors';
import { createAdminHandler } from './handler';
import { readNodeBody, splitUrl, writeNodeError, writeNodeResponse } from './node-io';
import type { AdminOptions, AdminRequest, MultiValue } from './types';

/** Options of `fastifyAdmin`: the scheduler plus the admin options; `prefix` is Fastify's own. */
export interface FastifyAdminOptions extends AdminOptions<FastifyRequest> {
  /** The scheduler whose app the admin API serves. */
  scheduler: Scheduler;
  /** Where to mount it, e.g. `/admin/oasis` (Fastify's register option). */
  prefix?: string;
}

/** Fastify's own register options, which it passes on to the plugin. */
const FASTIFY_KEYS = new Set(['prefix', 'logLevel', 'logSerializers']);

/**
 * The admin API as a Fastify plugin. Registration fails (`app.ready()` / `listen()` reject with
 * `AdminConfigError`) without a scheduler or without `authorize` (unless `auth: 'none'`).
 *
 * @example
 * await app.register(fastifyAdmin, {
 *   prefix: '/admin/oasis',
 *   scheduler,
 *   authorize: (req) => (req.headers.authorization === `Bearer ${token}` ? { user: 'ops', role: 'admin' } : null),
 * });
 */
export const fastifyAdmin: FastifyPluginAsync<FastifyAdminOptions> = async (
  fastify: FastifyInstance,
  opts: FastifyAdminOptions,
) => {
  if (opts === null || typeof opts !== 'object' || opts.scheduler === undefined) {
    throw new AdminConfigError(
      'scheduler',
      'required',
      'register fastifyAdmin with { scheduler, authorize }',
    );
  }
  const adminOptions: AdminOptions<FastifyRequest> = {};
  for (const [key, value] of Object.entries(opts)) {
    if (key === 'scheduler' || FASTIFY_KEYS.has(key)) continue;
    // Unknown keys go through, so the handler refuses them with its own message.
    (adminOptions as Record<string, unknown>)[key] = value;
  }
  const handler = createAdminHandler<FastifyRequest>(opts.scheduler, adminOptions);
  fastify.addHook('onClose', async () => handler.close());

  // Leave the body unread: the handler core reads it with its own limit and error shape.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  const prefix = fastify.prefix;
  const serve = async (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    const res = reply.raw;
    const controller = new AbortController();
    // Aborted only when the client leaves before the answer is written: a finished response has
    // nobody listening, and each abort builds a DOMException with its stack (measurable per request).
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    try {
      const url = request.raw.url ?? '/';
      const { path, query } = splitUrl(url.startsWith(prefix) ? url.slice(prefix.length) : url);
      const body =
        request.method === 'GET' || request.method === 'HEAD'
          ? undefined
          : await readNodeBody(request.raw, handler.bodyLimit);
      const adminRequest: AdminRequest<FastifyRequest> = {
        method: request.method,
        path,
        query,
        headers: request.headers as Record<string, MultiValue>,
        body,
        signal: controller.signal,
        raw: request,
      };
      const response = await handler.handle(adminRequest);
      await writeNodeResponse(res, response, controller.signal);
    } catch (err) {
      writeNodeError(res, err);
    }
  };
  const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
  fastify.route({ method: [...methods], url: '/', exposeHeadRoute: false, handler: serve });
  fastify.route({ method: [...methods], url: '/*', exposeHeadRoute: false, handler: serve });
};
