-- list-jobs: one batch of jobs by key ascending after a key (filters are applied by the caller).
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  ZRANGEBYLEX lower bound: '-' (from the first), '[key' (inclusive) or '(key' (exclusive)
-- ARGV[3]  batch size
-- Returns: a list of job hashes (each a flat list).
-- @include lib/common.lua

local keys = redis.call('ZRANGEBYLEX', K('jobs'), ARGV[2], '+', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, key in ipairs(keys) do
  local j = redis.call('HGETALL', jobkey(key))
  if #j > 0 then out[#out + 1] = j end
end
return out
