/**
 * The Express mount: `app.use('/admin/oasis', expressAdmin(scheduler, { authorize }))`.
 * It only translates an Express request into an `AdminRequest` and writes the `AdminResponse`
 * back; every decision is the handler core's. Works with Express 4.21+ and 5.
 */
import type { Scheduler } from '@oasis/core';
import { type Request, type Response, Router } from 'express';
import { createAdminHandler } from './handler';
import { readNodeBody, splitUrl, writeNodeError, writeNodeResponse } from './node-io';
import type { AdminOptions, AdminRequest, MultiValue } from './types';

/** Options of `expressAdmin`: `authorize` receives the Express request as `request.raw`. */
export type ExpressAdminOptions = AdminOptions<Request>;

/**
 * An Express router serving the admin API below wherever it is mounted. Throws `AdminConfigError`
 * at once without an `authorize` function (unless `auth: 'none'`).
 *
 * The body is read by the router (JSON, at most `bodyLimit`, default 1 MiB). When the host has
 * already parsed it (a global `express.json()`), that parsed body is used and the host's limit applies.
 *
 * @example
 * app.use('/admin/oasis', expressAdmin(scheduler, {
 *   authorize: (req) => (req.headers.authorization === `Bearer ${token}` ? { user: 'ops', role: 'admin' } : null),
 * }));
 */
export function expressAdmin(scheduler: Scheduler, options: ExpressAdminOptions): Router {
  const handler = createAdminHandler<Request>(scheduler, options);
  const router = Router();
  router.use((req: Request, res: Response) => {
    const controller = new AbortController();
    // Aborted only when the client leaves before the answer is written: a finished response has
    // nobody listening, and each abort builds a DOMException with its stack (measurable per request).
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    void (async () => {
      try {
        const { path, query } = splitUrl(req.url);
        // A host body parser ran first (a global `express.json()`): the stream is consumed and
        // `req.body` holds the value (body-parser 1 also marks it with `_body`).
        const preParsed = (req as Request & { _body?: boolean })._body === true || req.readableEnded;
        const body = preParsed
          ? { parsed: req.body as unknown }
          : req.method === 'GET' || req.method === 'HEAD'
            ? undefined
            : await readNodeBody(req, handler.bodyLimit);
        const request: AdminRequest<Request> = {
          method: req.method,
          path,
          query,
          headers: req.headers as Record<string, MultiValue>,
          body,
          signal: controller.signal,
          raw: req,
        };
        const response = await handler.handle(request);
        await writeNodeResponse(res, response, controller.signal);
      } catch (err) {
        writeNodeError(res, err);
      }
    })();
  });
  return router;
}
