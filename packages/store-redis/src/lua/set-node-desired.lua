-- set-node-desired: records what an operator asks a node to become (applied at its heartbeat).
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  node id
-- ARGV[3]  desired state: active | draining | paused
-- Returns: the node hash (flat list). Bumps the membership version.
-- Errors:  'NOTFOUND node …'.
-- @include lib/common.lua

local nk = nodekey(ARGV[2])
if redis.call('EXISTS', nk) == 0 then raise('NOTFOUND node ' .. ARGV[2]) end
redis.call('HSET', nk, 'desiredState', ARGV[3])
bump_membership()
return redis.call('HGETALL', nk)
