-- reap-dead-nodes: the leader's sweep: silent nodes go offline; running runs of offline or
-- forgotten nodes, and runs whose lease expired, become lost; their retries are inserted
-- (due at once, untargeted) while attempt <= maxAttempts (a loss may take one attempt more than
-- a failure: core's `lostRunRetries`); final lost runs re-arm delay-after jobs.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  leader epoch
-- ARGV[3]  node ttl ms
-- ARGV[4]  at most this many runs marked lost
-- Returns: { { offline node ids… }, { lost run hashes… }, { retry run hashes… } }.
--          Publishes 'runs' when runs were marked lost; bumps the membership version when nodes
--          went offline.
-- Errors:  'FENCED leader …' unless the epoch holds the current, unexpired lease.
-- @include lib/common.lua
-- @include lib/runs.lua

local l = redis.call('HMGET', K('leader'), 'epoch', 'expiresAt')
if l[1] ~= ARGV[2] or tonumber(l[2]) <= NOW then
  raise('FENCED leader epoch ' .. ARGV[2] .. ' is not the current unexpired lease')
end
local ttl, limit = tonumber(ARGV[3]), tonumber(ARGV[4])

local offline = {}
for _, id in ipairs(redis.call('SMEMBERS', K('nodes'))) do
  local n = redis.call('HMGET', nodekey(id), 'state', 'lastHeartbeatAt')
  if n[1] and n[1] ~= 'offline' and NOW - tonumber(n[2]) > ttl then
    redis.call('HSET', nodekey(id), 'state', 'offline')
    offline[#offline + 1] = id
  end
end
if #offline > 0 then bump_membership() end

-- Candidates: every running run of a forgotten, restarted or offline node, and every run whose
-- lease expired; the oldest `limit` of them (by id) are marked lost.
local victims, seen = {}, {}
for _, owner in ipairs(redis.call('SMEMBERS', K('nrun-owners'))) do
  local n = redis.call('HMGET', nodekey(owner), 'state', 'incarnation')
  for _, seq in ipairs(redis.call('SMEMBERS', K('nrun:' .. owner))) do
    local why = nil
    if not n[1] then
      why = 'node ' .. owner .. ' was removed'
    elseif redis.call('HGET', runkey(seq), 'ownerIncarnation') ~= n[2] then
      why = 'node ' .. owner .. ' restarted'
    elseif n[1] == 'offline' then
      why = 'node ' .. owner .. ' went offline'
    end
    if why then
      seen[seq] = true
      victims[#victims + 1] = { seq, why }
    end
  end
end
for _, seq in ipairs(redis.call('ZRANGEBYSCORE', K('leases'), '-inf', NOW)) do
  if not seen[seq] then
    seen[seq] = true
    victims[#victims + 1] = { seq, 'run lease expired' }
  end
end
table.sort(victims, function(a, b) return tonumber(a[1]) < tonumber(b[1]) end)
while #victims > limit do table.remove(victims) end

local lost, retries = {}, {}
for _, v in ipairs(victims) do
  local seq = v[1]
  local r = redis.call('HMGET', runkey(seq), 'state', 'attempt', 'retry', 'jobKey')
  if r[1] == 'running' then
    finish(seq, 'lost', v[2], nil, nil)
    lost[#lost + 1] = redis.call('HGETALL', runkey(seq))
    if tonumber(r[2]) <= max_attempts(r[3]) then
      local rseq = retry_of_lost(seq)
      retries[#retries + 1] = redis.call('HGETALL', runkey(rseq))
    else
      rearm_delay_after(r[4])
    end
  else
    redis.call('ZREM', K('leases'), seq)
  end
end
if #lost > 0 then publish('runs') end
return { offline, lost, retries }
