/** What the core benchmark's process sends back to the harness. */
export interface CoreResult {
  /** Named figures, e.g. `rssAfterRegisterMB`, `latenessP99Ms`. */
  metrics: Record<string, number | string>;
}
