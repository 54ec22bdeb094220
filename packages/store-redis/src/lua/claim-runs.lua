-- claim-runs: gives up to `limit` due pending runs to one node incarnation, each to one claimer:
-- runs of its handlers, untargeted or targeted at it, highest priority, then earliest dueAt,
-- then oldest. serial/skip/replace runs only while no run of their job runs, one per job.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  node id
-- ARGV[3]  incarnation
-- ARGV[4]  limit
-- ARGV[5]  lease ms
-- ARGV[6…] handlers
-- Returns: the claimed run hashes, in claim order, as one JSON text: an array of objects (field →
--          value). One bulk reply instead of a bulk string per field: far less for the client to
--          parse and allocate.
-- Errors:  'FENCED node …' when the incarnation is not current or the node is offline.
-- @include lib/common.lua
-- @include lib/runs.lua

local node, inc = ARGV[2], ARGV[3]
local limit, lease = tonumber(ARGV[4]), tonumber(ARGV[5])
local nk = nodekey(node)
local n = redis.call('HMGET', nk, 'incarnation', 'state')
if n[1] ~= inc or n[2] == 'offline' then
  raise('FENCED node ' .. node .. ' incarnation ' .. inc .. ' is not current')
end
local out = {}
if limit <= 0 then return '[]' end

-- Priority levels across this node's queues, highest first.
local levels, seen = {}, {}
local streams_of = {}
for i = 6, #ARGV do
  local h = ARGV[i]
  for _, t in ipairs({ '', node }) do
    for _, p in ipairs(redis.call('ZRANGE', qpkey(h, t), 0, -1)) do
      if not seen[p] then
        seen[p] = true
        levels[#levels + 1] = { tonumber(p), p }
        streams_of[p] = {}
      end
      local list = streams_of[p]
      list[#list + 1] = { key = qkey(h, t, p), qp = qpkey(h, t), buf = {}, pos = 1, skipped = 0, done = false }
    end
  end
end
table.sort(levels, function(a, b) return a[1] > b[1] end)

local CHUNK = limit + 32
local budget = 1000 + limit * 4
local blocked_jobs = {}
local until_lease = NOW + lease
local nowstr = n2s(NOW)
local leasestr = n2s(until_lease)
-- Writes nothing in this step reads again (the state, node, owner and lease indexes, and each
-- claimed job's per-state indexes) are gathered and made once at the end, with one multi-member
-- command each.
local taken = {}       -- { seq, … }
local scored = {}      -- { seq, seq, … } (score = member = seq)
local leased = {}      -- { until_lease, seq, … }
local by_job, jobs = {}, {} -- job key -> { seq, … } (its per-state indexes), job keys in first-seen order
local touched, touched_list = {}, {}

local function head(s)
  if s.pos > #s.buf then
    if s.done then return nil end
    local r = redis.call('ZRANGEBYSCORE', s.key, '-inf', NOW, 'WITHSCORES', 'LIMIT', s.skipped, CHUNK)
    s.buf, s.pos = {}, 1
    for i = 1, #r, 2 do s.buf[#s.buf + 1] = { r[i], tonumber(r[i + 1]) } end
    if #r < CHUNK * 2 then s.done = true end
    if #s.buf == 0 then return nil end
  end
  return s.buf[s.pos]
end

for _, level in ipairs(levels) do
  local streams = streams_of[level[2]]
  while #out < limit and budget > 0 do
    local best, bs = nil, nil
    for _, s in ipairs(streams) do
      local e = head(s)
      if e and (best == nil or e[2] < best[2] or (e[2] == best[2] and e[1] < best[1])) then
        best, bs = e, s
      end
    end
    if not best then break end
    budget = budget - 1
    bs.pos = bs.pos + 1
    local seq = best[1]
    local rk = runkey(seq)
    local flat = redis.call('HGETALL', rk)
    local h = fields_of(flat)
    local job_key, block = h.jobKey, h.block
    local blocked = false
    if job_key and block ~= 'parallel' then
      if blocked_jobs[job_key] or redis.call('HEXISTS', K('jobrun'), job_key) == 1 then blocked = true end
    end
    if blocked then
      bs.skipped = bs.skipped + 1
    else
      -- Out of its queue (the stream's key: a queued run has no wait-list member); a job's head
      -- lets the next waiting run of its job up. Whether the queue emptied is checked at the end.
      redis.call('ZREM', bs.key, seq)
      if not touched[bs] then
        touched[bs] = true
        touched_list[#touched_list + 1] = { bs, level[2] }
      end
      if job_key and blockable(block) and redis.call('HGET', K('jobhead'), job_key) == seq then promote(job_key) end
      local set = { 'state', 'running', 'ownerNode', node, 'ownerIncarnation', inc, 'leaseExpiresAt', leasestr,
        'startedAt', nowstr }
      redis.call('HSET', rk, unpack(set))
      taken[#taken + 1] = seq
      scored[#scored + 1] = seq
      scored[#scored + 1] = seq
      leased[#leased + 1] = leasestr
      leased[#leased + 1] = seq
      if job_key then
        job_running_add(job_key, 1)
        blocked_jobs[job_key] = true
        local mine = by_job[job_key]
        if not mine then
          mine = {}
          by_job[job_key] = mine
          jobs[#jobs + 1] = job_key
        end
        mine[#mine + 1] = seq
      end
      for j = 1, #set, 2 do h[set[j]] = set[j + 1] end
      out[#out + 1] = h
    end
  end
  if #out >= limit or budget <= 0 then break end
end

if #taken > 0 then
  redis.call('ZREM', K('runs:state:pending'), unpack(taken))
  redis.call('ZADD', K('runs:state:running'), unpack(scored))
  for _, job_key in ipairs(jobs) do
    local mine = by_job[job_key]
    local members = {}
    for _, seq in ipairs(mine) do
      members[#members + 1] = seq
      members[#members + 1] = seq
    end
    redis.call('ZREM', sjkey('pending', job_key), unpack(mine))
    redis.call('ZADD', sjkey('running', job_key), unpack(members))
  end
  redis.call('ZADD', K('runs:node:' .. node), unpack(scored))
  redis.call('SADD', K('nrun:' .. node), unpack(taken))
  redis.call('SADD', K('nrun-owners'), node)
  redis.call('ZADD', K('leases'), unpack(leased))
  -- A queue left empty takes its priority off the handler and target's list (as dequeue does).
  for _, t in ipairs(touched_list) do
    local s, p = t[1], t[2]
    if redis.call('ZCARD', s.key) == 0 then redis.call('ZREM', s.qp, p) end
  end
end
if #out == 0 then return '[]' end
return cjson.encode(out)
