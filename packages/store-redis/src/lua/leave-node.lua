-- leave-node: a graceful leave: the node goes offline at once and gives up the leader lease.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  node id
-- ARGV[3]  incarnation (a stale one changes nothing)
-- Returns: '1' when the node left (the membership version is bumped), '0' when the incarnation
--          was stale.
-- @include lib/common.lua

local node, inc = ARGV[2], ARGV[3]
local nk = nodekey(node)
if redis.call('HGET', nk, 'incarnation') ~= inc then return '0' end
redis.call('HSET', nk, 'state', 'offline')
bump_membership()
local lk = K('leader')
local l = redis.call('HMGET', lk, 'nodeId', 'incarnation', 'expiresAt')
if l[1] == node and l[2] == inc and tonumber(l[3]) > NOW then
  redis.call('HSET', lk, 'expiresAt', n2s(NOW))
end
return '1'
