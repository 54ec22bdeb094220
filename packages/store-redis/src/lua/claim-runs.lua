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
-- Returns: the claimed run hashes (each a flat list), in claim order.
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
if limit <= 0 then return out end

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
      list[#list + 1] = { key = qkey(h, t, p), buf = {}, pos = 1, skipped = 0, done = false }
    end
  end
end
table.sort(levels, function(a, b) return a[1] > b[1] end)

local CHUNK = limit + 32
local budget = 1000 + limit * 4
local blocked_jobs = {}
local until_lease = NOW + lease
local nowstr = n2s(NOW)

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
    local r = redis.call('HMGET', rk, 'jobKey', 'block')
    local job_key, block = r[1], r[2]
    local blocked = false
    if job_key and block ~= 'parallel' then
      if blocked_jobs[job_key] or redis.call('HEXISTS', K('jobrun'), job_key) == 1 then blocked = true end
    end
    if blocked then
      bs.skipped = bs.skipped + 1
    else
      unqueue(seq)
      set_state(seq, 'pending', 'running')
      redis.call('HSET', rk, 'ownerNode', node, 'ownerIncarnation', inc, 'leaseExpiresAt', n2s(until_lease),
        'startedAt', nowstr)
      redis.call('ZADD', K('runs:node:' .. node), seq, seq)
      redis.call('SADD', K('nrun:' .. node), seq)
      redis.call('SADD', K('nrun-owners'), node)
      redis.call('ZADD', K('leases'), until_lease, seq)
      if job_key then
        job_running_add(job_key, 1)
        blocked_jobs[job_key] = true
      end
      out[#out + 1] = redis.call('HGETALL', rk)
    end
  end
  if #out >= limit or budget <= 0 then break end
end
return out
