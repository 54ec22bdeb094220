// @oasis/react-panel: the drop-in admin panel and its framework-free data layer. Named exports only.

export { OasisApiError } from './client/api-error';
export type * from './client/api-types';
export { FAILURE_STATES, isFinal, RUN_STATES } from './client/api-types';
export { ExternalStore, type Subscribable } from './client/external-store';
export { LogTail, type LogTailState } from './client/log-tail';
export {
  type AuthNotice,
  OasisClient,
  type OasisClientOptions,
  type TailHandlers,
} from './client/oasis-client';
export { Query, type QueryOptions, type QueryState } from './client/query';
export { type PreviewInput, type PreviewState, SchedulePreview } from './client/schedule-preview';
export { type SseEvent, SseParser } from './client/sse-parser';
export { useClient, useLogTail, useQuery, useStore } from './hooks/use-oasis';
export { OasisPanel, type OasisPanelProps } from './oasis-panel';
export type { View } from './panel-context';
