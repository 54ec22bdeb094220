-- acquire-leadership: takes the lease when free or expired (epoch + 1, even for its last holder)
-- or renews it for its holder while it is live (same epoch).
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  node id
-- ARGV[3]  incarnation
-- ARGV[4]  ttl ms
-- Returns: the lease hash (flat list) as it stands afterwards.
-- Errors:  'FENCED node …' for a stale incarnation or an offline node.
-- @include lib/common.lua

local node, inc, ttl = ARGV[2], ARGV[3], tonumber(ARGV[4])
local n = redis.call('HMGET', nodekey(node), 'incarnation', 'state')
if n[1] ~= inc or n[2] == 'offline' then
  raise('FENCED node ' .. node .. ' incarnation ' .. inc .. ' is not current')
end
local lk = K('leader')
local l = redis.call('HMGET', lk, 'nodeId', 'incarnation', 'epoch', 'expiresAt')
local expires = n2s(NOW + ttl)
if l[1] and tonumber(l[4]) > NOW then
  if l[1] == node and l[2] == inc then redis.call('HSET', lk, 'expiresAt', expires) end
else
  local epoch = (tonumber(l[3]) or 0) + 1
  redis.call('HSET', lk, 'nodeId', node, 'incarnation', inc, 'epoch', n2s(epoch), 'expiresAt', expires)
end
return redis.call('HGETALL', lk)
