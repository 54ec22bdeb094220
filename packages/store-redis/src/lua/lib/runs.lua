-- Run life helpers (queues, indexes, endings, stats, insertion), inlined after lib/common.lua
-- into the scripts that insert or end runs.

-- ---- stats ------------------------------------------------------------------------------------
local STAT_FIELD = {
  succeeded = 'succeeded', failed = 'failed', dead = 'dead', timed_out = 'timedOut',
  cancelled = 'cancelled', lost = 'lost', skipped = 'skipped',
}

-- Stats deltas are gathered in an accumulator (one per step) and written once: a batch of
-- endings costs one write per (job, metric), not one per run. `acc.list` keeps the first-seen
-- order of the job suffixes ('' for one-off tasks, '|<jobKey>' for a job's runs).
local function stats_acc()
  return { list = {}, by = {} }
end

-- Counts one ending in `acc`; `duration` (ms) adds to the duration totals when not nil.
local function stats_count(acc, job_key, state, duration)
  local metric = STAT_FIELD[state]
  if not metric then return end
  local sfx = ''
  if job_key and job_key ~= '' then sfx = '|' .. job_key end
  local e = acc.by[sfx]
  if not e then
    e = { n = {}, metrics = {}, dur = 0, max = -1, timed = false }
    acc.by[sfx] = e
    acc.list[#acc.list + 1] = sfx
  end
  if not e.n[metric] then
    e.n[metric] = 0
    e.metrics[#e.metrics + 1] = metric
  end
  e.n[metric] = e.n[metric] + 1
  if duration then
    e.timed = true
    e.dur = e.dur + duration
    if duration > e.max then e.max = duration end
  end
end

-- Adds one accumulator entry to a hash of counters: HINCRBY per metric and for the duration sum,
-- the max kept by HSET.
local function stats_write(hk, sfx, e)
  for _, metric in ipairs(e.metrics) do redis.call('HINCRBY', hk, metric .. sfx, e.n[metric]) end
  if e.timed then
    redis.call('HINCRBY', hk, 'totalDurationMs' .. sfx, e.dur)
    local max = tonumber(redis.call('HGET', hk, 'maxDurationMs' .. sfx) or '-1')
    if e.max > max then redis.call('HSET', hk, 'maxDurationMs' .. sfx, n2s(e.max)) end
  end
end

-- Writes the accumulated endings into this hour's stats: `B:stats:<hour>` holds
-- '<metric>|<jobKey>' (and bare '<metric>' for one-off tasks); `B:stats:<hour>:all` holds the
-- app's totals for the hour (bare metric names, every job and task together), so the dashboard
-- reads a few small fields per hour instead of every job's.
local function stats_flush(acc)
  if #acc.list == 0 then return end
  local hour = NOW - (NOW % 3600000)
  local hk = K('stats:' .. n2s(hour))
  redis.call('ZADD', K('stats:hours'), hour, n2s(hour))
  local all = { n = {}, metrics = {}, dur = 0, max = -1, timed = false }
  for _, sfx in ipairs(acc.list) do
    local e = acc.by[sfx]
    stats_write(hk, sfx, e)
    for _, metric in ipairs(e.metrics) do
      if not all.n[metric] then
        all.n[metric] = 0
        all.metrics[#all.metrics + 1] = metric
      end
      all.n[metric] = all.n[metric] + e.n[metric]
    end
    if e.timed then
      all.timed = true
      all.dur = all.dur + e.dur
      if e.max > all.max then all.max = e.max end
    end
  end
  stats_write(hk .. ':all', '', all)
  acc.list, acc.by = {}, {}
end

-- One ending counted and written at once (the steps that end few runs).
local function stats_add(job_key, state, duration)
  local acc = stats_acc()
  stats_count(acc, job_key, state, duration)
  stats_flush(acc)
end

-- ---- run queues and indexes -------------------------------------------------------------------
local function enqueue(seq, h, t, p, due)
  redis.call('ZADD', qkey(h, t, p), due, seq)
  redis.call('ZADD', qpkey(h, t), p, p)
end

local function dequeue(seq, h, t, p)
  local q = qkey(h, t, p)
  redis.call('ZREM', q, seq)
  if redis.call('ZCARD', q) == 0 then redis.call('ZREM', qpkey(h, t), p) end
end

-- Runs of a job with block strategy serial, skip or replace: at most one of them sits in the
-- handler queues (the job's head, `B:jobhead` field jobKey = seq); the others wait in
-- `B:jw:<jobKey>` (ordered by dueAt, then priority, then seq; the run's `w` field holds its
-- member) and the first moves up when the head leaves the queues. So a busy job's backlog costs
-- a claim one blocked entry, not one per waiting run. Due time comes first so that the head is
-- due whenever any run of the job is: within one such job, the earliest due run goes first.
local function blockable(block) return block == 'serial' or block == 'skip' or block == 'replace' end

local function wait_member(p, due, seq)
  return string.format('%016d|%016d|', tonumber(due), 1e15 - tonumber(p)) .. seq
end

-- Puts a pending run where claims find it: its handler queue, or its job's wait list.
local function queue_run(seq, h, t, p, due, job_key, block)
  if job_key and blockable(block) then
    local jw = K('jw:' .. job_key)
    local head = redis.call('HGET', K('jobhead'), job_key)
    if head then
      local hr = redis.call('HMGET', runkey(head), 'handler', 'targetNode', 'priority', 'dueAt')
      local mine, theirs = wait_member(p, due, seq), wait_member(hr[3], hr[4], head)
      if mine > theirs then
        redis.call('ZADD', jw, 0, mine)
        redis.call('HSET', runkey(seq), 'w', mine)
        return
      end
      -- The newcomer comes first: the head steps back to wait.
      dequeue(head, hr[1], hr[2] or '', hr[3])
      redis.call('ZADD', jw, 0, theirs)
      redis.call('HSET', runkey(head), 'w', theirs)
    end
    redis.call('HSET', K('jobhead'), job_key, seq)
  end
  enqueue(seq, h, t, p, due)
end

-- Moves the first waiting run of a job up to its handler queue (or forgets the head).
local function promote(job_key)
  local jw = K('jw:' .. job_key)
  local m = redis.call('ZRANGE', jw, 0, 0)
  if #m == 0 then
    redis.call('HDEL', K('jobhead'), job_key)
    return
  end
  redis.call('ZREM', jw, m[1])
  local seq = string.match(m[1], '|([^|]+)$')
  local r = redis.call('HMGET', runkey(seq), 'handler', 'targetNode', 'priority', 'dueAt')
  redis.call('HDEL', runkey(seq), 'w')
  redis.call('HSET', K('jobhead'), job_key, seq)
  enqueue(seq, r[1], r[2] or '', r[3], r[4])
end

-- Takes a pending run out of the queues (claimed, ended or moved); a head lets the next one up.
local function unqueue(seq)
  local r = redis.call('HMGET', runkey(seq), 'handler', 'targetNode', 'priority', 'jobKey', 'w')
  if r[5] then
    redis.call('ZREM', K('jw:' .. r[4]), r[5])
    redis.call('HDEL', runkey(seq), 'w')
    return
  end
  dequeue(seq, r[1], r[2] or '', r[3])
  if r[4] and redis.call('HGET', K('jobhead'), r[4]) == seq then promote(r[4]) end
end

-- Moves a run from state `old` (nil for a new run) to `new`: its hash, the app's state index and,
-- for a job's run (`job_key`), the job's per-state index.
local function set_state(seq, old, new, job_key)
  if old then redis.call('ZREM', K('runs:state:' .. old), seq) end
  redis.call('ZADD', K('runs:state:' .. new), seq, seq)
  if job_key then
    if old then redis.call('ZREM', sjkey(old, job_key), seq) end
    redis.call('ZADD', sjkey(new, job_key), seq, seq)
  end
  redis.call('HSET', runkey(seq), 'state', new)
end

local function job_running_add(job_key, delta)
  if not job_key or job_key == '' then return end
  local n = redis.call('HINCRBY', K('jobrun'), job_key, delta)
  if n <= 0 then redis.call('HDEL', K('jobrun'), job_key) end
end

-- Ends a pending or running run as `state` (a final state). `fields` is a flat list of extra
-- hash fields to set; `duration` (ms) is counted in the stats when not nil.
local function finish(seq, state, reason, fields, duration)
  local rk = runkey(seq)
  local r = redis.call('HMGET', rk, 'state', 'handler', 'targetNode', 'priority', 'jobKey', 'ownerNode')
  local old, job_key = r[1], r[5]
  if old == 'pending' then
    unqueue(seq)
    if job_key then redis.call('SREM', K('jobactive:' .. job_key), seq) end
  elseif old == 'running' then
    job_running_add(job_key, -1)
    if job_key then redis.call('SREM', K('jobactive:' .. job_key), seq) end
    if r[6] then
      redis.call('SREM', K('nrun:' .. r[6]), seq)
      if redis.call('SCARD', K('nrun:' .. r[6])) == 0 then redis.call('SREM', K('nrun-owners'), r[6]) end
    end
    redis.call('ZREM', K('leases'), seq)
    redis.call('HDEL', rk, 'leaseExpiresAt')
  end
  set_state(seq, old, state, job_key)
  redis.call('HSET', rk, 'finishedAt', n2s(NOW))
  if reason then redis.call('HSET', rk, 'reason', reason) end
  if fields and #fields > 0 then redis.call('HSET', rk, unpack(fields)) end
  redis.call('ZADD', K('finished'), NOW, seq)
  stats_add(job_key, state, duration)
end

-- Re-arms a `delay-after` job waiting for its run to end (nextFireAt unset): nextFireAt = now +
-- its delay. Returns true when it did.
local function rearm_delay_after(job_key)
  if not job_key or job_key == '' then return false end
  local jk = jobkey(job_key)
  local j = redis.call('HMGET', jk, 'delayAfterMs', 'enabled', 'partition', 'nextFireAt')
  if not j[1] or j[4] then return false end
  local nf = NOW + tonumber(j[1])
  redis.call('HSET', jk, 'nextFireAt', n2s(nf), 'updatedAt', n2s(NOW))
  redis.call('HINCRBY', jk, 'version', 1)
  if j[2] == '1' then
    redis.call('ZADD', K('due'), nf, job_key)
    redis.call('ZADD', K('due:' .. j[3]), nf, job_key)
  end
  return true
end

-- A run's retry policy is stored compactly as 'maxAttempts|backoff|delayMs|maxDelayMs|jitter'
-- (short values keep a run's hash in Redis's compact listpack encoding).
local function max_attempts(retry) return tonumber(string.match(retry, '^([^|]+)')) end

-- Inserts a run from a draft (a table of strings, see `encodeRunDraft` in codec.ts).
-- Returns the run's seq and whether it was created (false: its idempotency key existed).
local function insert_run(d)
  if d.idempotencyKey then
    local existing = redis.call('HGET', K('idem'), d.idempotencyKey)
    if existing and redis.call('EXISTS', runkey(existing)) == 1 then return existing, false end
  end
  local state = d.state or 'pending'
  local reason = d.reason
  local job_key = d.jobKey
  if job_key and state == 'pending' and (d.block == 'skip' or d.block == 'replace') then
    local active = redis.call('SMEMBERS', K('jobactive:' .. job_key))
    if d.block == 'skip' and #active > 0 then
      state = 'skipped'
      reason = 'block strategy skip: a run of the job is pending or running'
    elseif d.block == 'replace' then
      for _, other in ipairs(active) do
        local st = redis.call('HGET', runkey(other), 'state')
        if st == 'pending' then
          finish(other, 'cancelled', 'replaced by a newer run', nil, nil)
        elseif st == 'running' then
          redis.call('HSET', runkey(other), 'cancelRequested', '1', 'reason', 'replaced by a newer run')
        end
      end
    end
  end
  local seq = next_seq()
  local due = NOW
  if d.delayMs then
    due = NOW + tonumber(d.delayMs)
  elseif d.dueAt then
    due = tonumber(d.dueAt)
  end
  local rk = runkey(seq)
  local f = { 'seq', seq, 'app', APP, 'handler', d.handler, 'params', d.params, 'trigger', d.trigger,
    'scheduledFor', d.scheduledFor, 'dueAt', n2s(due), 'attempt', d.attempt, 'retry', d.retry,
    'shardIndex', d.shardIndex, 'shardTotal', d.shardTotal,
    'priority', d.priority, 'block', d.block, 'routing', d.routing, 'state', state,
    'createdAt', n2s(NOW) }
  for _, name in ipairs({ 'jobKey', 'timeoutMs', 'targetNode', 'idempotencyKey', 'parentRunId' }) do
    if d[name] then
      f[#f + 1] = name
      f[#f + 1] = d[name]
    end
  end
  redis.call('HSET', rk, unpack(f))
  redis.call('ZADD', K('runs'), seq, seq)
  if job_key then redis.call('ZADD', K('runs:job:' .. job_key), seq, seq) end
  if d.parentRunId then redis.call('ZADD', K('runs:parent:' .. d.parentRunId), seq, seq) end
  if d.idempotencyKey then redis.call('HSET', K('idem'), d.idempotencyKey, seq) end
  if state == 'pending' then
    -- The hash already says pending (HSET above): only the state indexes are left to write.
    redis.call('ZADD', K('runs:state:pending'), seq, seq)
    if job_key then redis.call('ZADD', sjkey('pending', job_key), seq, seq) end
    queue_run(seq, d.handler, d.targetNode or '', d.priority, due, job_key, d.block)
    if job_key then redis.call('SADD', K('jobactive:' .. job_key), seq) end
  else
    set_state(seq, nil, 'pending', job_key)
    finish(seq, state, reason, nil, nil)
  end
  return seq, true
end

-- The retry of a lost run: the same run again, attempt + 1, due at once, untargeted.
local function retry_of_lost(seq)
  local r = redis.call('HGETALL', runkey(seq))
  local h = {}
  for i = 1, #r, 2 do h[r[i]] = r[i + 1] end
  local d = {
    jobKey = h.jobKey, handler = h.handler, params = h.params, trigger = 'retry',
    scheduledFor = h.scheduledFor, attempt = n2s(tonumber(h.attempt) + 1), retry = h.retry,
    timeoutMs = h.timeoutMs, shardIndex = h.shardIndex,
    shardTotal = h.shardTotal, priority = h.priority, block = h.block, routing = h.routing,
    parentRunId = runid(seq),
  }
  return insert_run(d)
end
