-- get-stats: the hourly stats hashes with hour in [from, to).
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  from (ms, inclusive)
-- ARGV[3]  to (ms, exclusive)
-- Returns: a list of { hour, hash (flat list of '<metric>' or '<metric>|<jobKey>' to value) }.
-- @include lib/common.lua

local out = {}
for _, hour in ipairs(redis.call('ZRANGEBYSCORE', K('stats:hours'), ARGV[2], '(' .. ARGV[3])) do
  out[#out + 1] = { hour, redis.call('HGETALL', K('stats:' .. hour)) }
end
return out
