// The public types of @oasis/http-admin, pinned: an accidental API change fails `tsc`.
import type { RunRecord, Scheduler } from '@oasis/core';
import {
  type AdminErrorBody,
  type AdminHandler,
  type AdminOptions,
  type AdminPrincipal,
  type AdminRequest,
  type AdminResponse,
  type AdminRole,
  createAdminHandler,
  type Dashboard,
  type RunSummary,
  summarizeRun,
} from '@oasis/http-admin';
import { type ExpressAdminOptions, expressAdmin } from '@oasis/http-admin/express';
import { type FastifyAdminOptions, fastifyAdmin } from '@oasis/http-admin/fastify';
import type { Request, Router } from 'express';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { expectTypeOf } from 'vitest';

expectTypeOf<AdminRole>().toEqualTypeOf<'viewer' | 'operator' | 'admin'>();
expectTypeOf<AdminPrincipal>().toEqualTypeOf<{ user: string; role: AdminRole }>();
expectTypeOf(createAdminHandler).parameters.toEqualTypeOf<[Scheduler, AdminOptions<unknown>]>();
expectTypeOf(createAdminHandler).returns.toEqualTypeOf<AdminHandler<unknown>>();
expectTypeOf<AdminHandler['handle']>().toEqualTypeOf<(request: AdminRequest) => Promise<AdminResponse>>();
expectTypeOf(expressAdmin).parameters.toEqualTypeOf<[Scheduler, ExpressAdminOptions]>();
expectTypeOf(expressAdmin).returns.toEqualTypeOf<Router>();
expectTypeOf<ExpressAdminOptions['authorize']>().parameter(0).toEqualTypeOf<AdminRequest<Request>>();
expectTypeOf(fastifyAdmin).toEqualTypeOf<FastifyPluginAsync<FastifyAdminOptions>>();
expectTypeOf<FastifyAdminOptions['scheduler']>().toEqualTypeOf<Scheduler>();
expectTypeOf<NonNullable<FastifyAdminOptions['authorize']>>()
  .parameter(0)
  .toEqualTypeOf<AdminRequest<FastifyRequest>>();
expectTypeOf<AdminErrorBody['error']['field']>().toEqualTypeOf<string | null>();
expectTypeOf<AdminOptions['auth']>().toEqualTypeOf<'none' | undefined>();
expectTypeOf<AdminOptions['dashboardCacheMs']>().toEqualTypeOf<number | undefined>();
expectTypeOf<AdminOptions['clock']>().toEqualTypeOf<{ now(): number } | undefined>();
expectTypeOf(summarizeRun).parameters.toEqualTypeOf<[RunRecord]>();
expectTypeOf(summarizeRun).returns.toEqualTypeOf<RunSummary>();
expectTypeOf<keyof RunSummary>().toEqualTypeOf<Exclude<keyof RunRecord, 'params' | 'result'>>();
expectTypeOf<RunSummary['error']>().toEqualTypeOf<{ name: string; message: string } | null>();
expectTypeOf<Dashboard['recentRuns']>().toEqualTypeOf<RunSummary[]>();
