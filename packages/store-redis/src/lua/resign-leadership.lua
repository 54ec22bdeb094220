-- resign-leadership: gives the lease up (expires it now) if this node holds this epoch.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  node id
-- ARGV[3]  epoch
-- Returns: '1' when resigned, '0' otherwise.
-- @include lib/common.lua

local lk = K('leader')
local l = redis.call('HMGET', lk, 'nodeId', 'epoch', 'expiresAt')
if l[1] == ARGV[2] and l[2] == ARGV[3] then
  if tonumber(l[3]) > NOW then redis.call('HSET', lk, 'expiresAt', n2s(NOW)) end
  return '1'
end
return '0'
