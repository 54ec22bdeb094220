-- heartbeat: node liveness and load, the leases of its runs, the leader lease renewal; reads
-- back cancel requests, lost runs, the desired state, the partition generation and the lease.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  node id
-- ARGV[3]  incarnation
-- ARGV[4]  state the node is in
-- ARGV[5]  running count
-- ARGV[6]  run lease ms
-- ARGV[7]  leader epoch to renew, or ''
-- ARGV[8]  leader ttl ms, or ''
-- ARGV[9…] pairs: run seq ('' when the id is not of this app), progress ('' when not given,
--          'null' to clear)
-- Returns: { now, { cancel seqs… }, { lost indexes (1-based pair numbers)… }, desiredState or '',
--            partition generation, leader hash (flat list), membership version }
-- Errors:  'FENCED node …' when the incarnation is not current or the node is offline.
-- @include lib/common.lua

local node, inc = ARGV[2], ARGV[3]
local nk = nodekey(node)
local n = redis.call('HMGET', nk, 'incarnation', 'state', 'desiredState')
if n[1] ~= inc or n[2] == 'offline' then
  raise('FENCED node ' .. node .. ' incarnation ' .. inc .. ' is not current')
end
redis.call('HSET', nk, 'state', ARGV[4], 'running', ARGV[5], 'lastHeartbeatAt', n2s(NOW))
local until_lease = NOW + tonumber(ARGV[6])
local cancel, lost = {}, {}
local idx = 0
for i = 9, #ARGV, 2 do
  idx = idx + 1
  local seq, progress = ARGV[i], ARGV[i + 1]
  local owned = false
  if seq ~= '' then
    local r = redis.call('HMGET', runkey(seq), 'state', 'ownerNode', 'ownerIncarnation', 'cancelRequested')
    if r[1] == 'running' and r[2] == node and r[3] == inc then
      owned = true
      redis.call('HSET', runkey(seq), 'leaseExpiresAt', n2s(until_lease))
      if progress == 'null' then
        redis.call('HDEL', runkey(seq), 'progress')
      elseif progress ~= '' then
        redis.call('HSET', runkey(seq), 'progress', progress)
      end
      redis.call('ZADD', K('leases'), until_lease, seq)
      if r[4] == '1' then cancel[#cancel + 1] = tostring(idx) end
    end
  end
  if not owned then lost[#lost + 1] = tostring(idx) end
end
local lk = K('leader')
if ARGV[7] ~= '' then
  local l = redis.call('HMGET', lk, 'epoch', 'nodeId', 'incarnation', 'expiresAt')
  if l[1] == ARGV[7] and l[2] == node and l[3] == inc and tonumber(l[4]) > NOW then
    redis.call('HSET', lk, 'expiresAt', n2s(NOW + tonumber(ARGV[8])))
  end
end
local gen = redis.call('HGET', K('pmap'), 'generation') or '0'
local members = redis.call('GET', K('members')) or '0'
return { n2s(NOW), cancel, lost, n[3] or '', gen, redis.call('HGETALL', lk), members }
