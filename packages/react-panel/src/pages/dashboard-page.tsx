/** Dashboard: totals, 24 h outcomes, hourly trend, job state split, nodes, recent runs and failures. */
import type { Dashboard, RunSummary } from '../client/api-types';
import { useQuery } from '../hooks/use-oasis';
import { usePanel } from '../panel-context';
import { ErrorBox, PageHead, RunStateBadge, TableWrap } from '../ui/components';
import { formatDuration, formatRelative } from '../ui/format';

/** The hourly trend as stacked bars (succeeded below, failed above), hand-written SVG. */
export function TrendChart({ trend }: { trend: Dashboard['trend'] }) {
  const width = 480;
  const height = 140;
  const pad = 18;
  const max = Math.max(1, ...trend.map((t) => t.succeeded + t.failed));
  const bar = (width - pad) / Math.max(1, trend.length);
  const scale = (n: number) => (n / max) * (height - pad);
  const total = trend.reduce((a, t) => a + t.succeeded + t.failed, 0);
  return (
    <figure className="op-chart">
      <svg
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={`Runs per hour over 24 hours, ${total} in all`}
      >
        <line x1={pad} y1={height - pad} x2={width} y2={height - pad} className="op-axis" />
        <text x={0} y={10} className="op-axis-label">
          {max}
        </text>
        <text x={0} y={height - pad} className="op-axis-label">
          0
        </text>
        {trend.map((t, i) => {
          const x = pad + i * bar + 1;
          const hs = scale(t.succeeded);
          const hf = scale(t.failed);
          const hour = new Date(t.hour).getHours();
          return (
            <g key={t.hour}>
              <title>{`${String(hour).padStart(2, '0')}:00 — ${t.succeeded} succeeded, ${t.failed} failed`}</title>
              <rect x={x} y={height - pad - hs} width={bar - 2} height={hs} className="op-bar-ok" />
              <rect x={x} y={height - pad - hs - hf} width={bar - 2} height={hf} className="op-bar-bad" />
              {i % 4 === 0 ? (
                <text x={x} y={height - 4} className="op-axis-label">
                  {String(hour).padStart(2, '0')}h
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <span className="op-key op-key-ok" /> succeeded <span className="op-key op-key-bad" /> failed (per
        hour, last 24 h)
      </figcaption>
    </figure>
  );
}

/** A proportion bar with labelled parts. */
function SplitBar(props: { label: string; parts: { name: string; value: number; tone: string }[] }) {
  const total = props.parts.reduce((a, p) => a + p.value, 0);
  return (
    <div className="op-split">
      <div
        className="op-split-bar"
        role="img"
        aria-label={`${props.label}: ${props.parts.map((p) => `${p.value} ${p.name}`).join(', ')}`}
      >
        {props.parts.map((p) =>
          p.value > 0 ? (
            <span
              key={p.name}
              className={`op-split-part op-${p.tone}-bg`}
              style={{ flexGrow: p.value / Math.max(1, total) }}
            />
          ) : null,
        )}
      </div>
      <ul className="op-legend">
        {props.parts.map((p) => (
          <li key={p.name}>
            <span className={`op-key op-${p.tone}-bg`} /> {p.name}: <strong>{p.value}</strong>
          </li>
        ))}
      </ul>
    </div>
  );
}

function RunRow({ run, now }: { run: RunSummary; now: number }) {
  const { navigate } = usePanel();
  return (
    <tr
      className={
        run.state === 'dead' || run.state === 'failed' || run.state === 'timed_out' || run.state === 'lost'
          ? 'op-row-bad'
          : undefined
      }
    >
      <td>
        <button type="button" className="op-link" onClick={() => navigate({ page: 'run', id: run.id })}>
          {run.jobKey ?? `task: ${run.handler}`}
        </button>
      </td>
      <td>
        <RunStateBadge state={run.state} />
      </td>
      <td>{run.ownerNode ?? '—'}</td>
      <td>{formatRelative(run.finishedAt ?? run.startedAt ?? run.scheduledFor, now)}</td>
      <td>
        {run.error ? (
          <span className="op-error-text">{run.error.message}</span>
        ) : (
          formatDuration(run.durationMs)
        )}
      </td>
    </tr>
  );
}

/** The dashboard page. */
export function DashboardPage() {
  const { navigate } = usePanel();
  const q = useQuery('dashboard', (c, s) => c.dashboard(s), { refetchMs: 3000 });
  const d = q.data;
  return (
    <div>
      <PageHead title="Dashboard">
        <button type="button" className="op-btn" onClick={() => void q.refetch()}>
          Refresh
        </button>
      </PageHead>
      <ErrorBox error={q.error} />
      {d === undefined ? (
        q.status === 'loading' ? (
          <p className="op-muted">Loading…</p>
        ) : null
      ) : (
        <>
          <div className="op-cards">
            <div className="op-card">
              <div className="op-card-label">Jobs</div>
              <div className="op-card-value">{d.jobs.total}</div>
              <div className="op-muted">
                {d.jobs.enabled} active · {d.jobs.disabled} paused
              </div>
            </div>
            <div className="op-card">
              <div className="op-card-label">Runs, 24 h</div>
              <div className="op-card-value">{d.last24h.total}</div>
              <div className="op-muted">
                {d.queue.pending} pending · {d.queue.running} running
              </div>
            </div>
            <div className="op-card op-card-ok">
              <div className="op-card-label">Succeeded, 24 h</div>
              <div className="op-card-value">{d.last24h.succeeded}</div>
              <div className="op-muted">
                {d.last24h.total > 0 ? `${Math.round((d.last24h.succeeded / d.last24h.total) * 100)} %` : '—'}
              </div>
            </div>
            <div className={`op-card${d.last24h.failures > 0 ? ' op-card-bad' : ''}`}>
              <div className="op-card-label">Failures, 24 h</div>
              <div className="op-card-value">{d.last24h.failures}</div>
              <div className="op-muted">
                {d.last24h.dead} dead · {d.last24h.timedOut} timed out · {d.last24h.lost} lost
              </div>
            </div>
            <div className="op-card">
              <div className="op-card-label">Nodes online</div>
              <div className="op-card-value">
                {d.nodes.online}/{d.nodes.total}
              </div>
              <div className="op-muted">leader: {d.leader?.nodeId ?? 'none'}</div>
            </div>
          </div>
          <div className="op-grid-2">
            <section className="op-panel-box" aria-labelledby="op-trend-h">
              <h3 id="op-trend-h">Hourly trend</h3>
              <TrendChart trend={d.trend} />
            </section>
            <section className="op-panel-box" aria-labelledby="op-split-h">
              <h3 id="op-split-h">Job states</h3>
              <SplitBar
                label="Jobs"
                parts={[
                  { name: 'active', value: d.jobs.enabled, tone: 'ok' },
                  { name: 'paused', value: d.jobs.disabled, tone: 'muted' },
                ]}
              />
              <h3>Run outcomes, 24 h</h3>
              <SplitBar
                label="Runs"
                parts={[
                  { name: 'succeeded', value: d.last24h.succeeded, tone: 'ok' },
                  { name: 'failed', value: d.last24h.failures, tone: 'bad' },
                  { name: 'cancelled', value: d.last24h.cancelled, tone: 'warn' },
                  { name: 'skipped', value: d.last24h.skipped, tone: 'muted' },
                ]}
              />
            </section>
          </div>
          <div className="op-grid-2">
            <section className="op-panel-box op-failures" aria-labelledby="op-fail-h">
              <h3 id="op-fail-h">Recent failures</h3>
              {d.recentFailures.length === 0 ? (
                <p className="op-muted">No failures.</p>
              ) : (
                <TableWrap label="Recent failures">
                  <thead>
                    <tr>
                      <th>Job</th>
                      <th>State</th>
                      <th>Node</th>
                      <th>When</th>
                      <th>Error</th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.recentFailures.map((r) => (
                      <RunRow key={r.id} run={r} now={d.now} />
                    ))}
                  </tbody>
                </TableWrap>
              )}
            </section>
            <section className="op-panel-box" aria-labelledby="op-recent-h">
              <h3 id="op-recent-h">
                Recent runs{' '}
                <button type="button" className="op-link" onClick={() => navigate({ page: 'runs' })}>
                  all runs
                </button>
              </h3>
              <TableWrap label="Recent runs">
                <thead>
                  <tr>
                    <th>Job</th>
                    <th>State</th>
                    <th>Node</th>
                    <th>When</th>
                    <th>Duration</th>
                  </tr>
                </thead>
                <tbody>
                  {d.recentRuns.map((r) => (
                    <RunRow key={r.id} run={r} now={d.now} />
                  ))}
                </tbody>
              </TableWrap>
            </section>
          </div>
        </>
      )}
    </div>
  );
}
