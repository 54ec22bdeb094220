-- remove-node: forgets a node (its next heartbeat or claim is fenced) and expires its leader lease.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  node id
-- Returns: '1' when a node was removed (the membership version is bumped), '0' when there was none.
-- @include lib/common.lua

local existed = redis.call('DEL', nodekey(ARGV[2]))
redis.call('SREM', K('nodes'), ARGV[2])
if existed == 1 then bump_membership() end
local lk = K('leader')
local l = redis.call('HMGET', lk, 'nodeId', 'expiresAt')
if existed == 1 and l[1] == ARGV[2] and tonumber(l[2]) > NOW then redis.call('HSET', lk, 'expiresAt', n2s(NOW)) end
return tostring(existed)
