-- write-partition-map: writes the partition map with generation + 1, for the current leader.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  epoch
-- ARGV[3]  assignments as JSON text
-- Returns: { generation, epoch, assignments JSON }.
-- Errors:  'FENCED leader …' unless the epoch holds an unexpired lease.
-- @include lib/common.lua

local l = redis.call('HMGET', K('leader'), 'epoch', 'expiresAt')
if l[1] ~= ARGV[2] or tonumber(l[2]) <= NOW then
  raise('FENCED leader epoch ' .. ARGV[2] .. ' does not hold the lease')
end
local pk = K('pmap')
local gen = redis.call('HINCRBY', pk, 'generation', 1)
redis.call('HSET', pk, 'epoch', ARGV[2], 'assignments', ARGV[3])
return { tostring(gen), ARGV[2], ARGV[3] }
