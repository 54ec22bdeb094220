-- due-jobs: enabled jobs whose nextFireAt is at or before now + horizon, earliest first. Reads only.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  limit
-- ARGV[3]  horizon ms (0: due now)
-- ARGV[4…] partitions, or the single value '*' for all
-- Returns: a list of job hashes (each a flat list).
-- @include lib/common.lua

local limit = tonumber(ARGV[2])
local untilMs = NOW + tonumber(ARGV[3])
local sets = {}
if ARGV[4] == '*' then
  sets[1] = K('due')
else
  for i = 4, #ARGV do sets[#sets + 1] = K('due:' .. ARGV[i]) end
end
local found = {}
for _, s in ipairs(sets) do
  local r = redis.call('ZRANGEBYSCORE', s, '-inf', untilMs, 'WITHSCORES', 'LIMIT', 0, limit)
  for i = 1, #r, 2 do found[#found + 1] = { r[i], tonumber(r[i + 1]) } end
end
table.sort(found, function(a, b)
  if a[2] ~= b[2] then return a[2] < b[2] end
  return a[1] < b[1]
end)
local out = {}
for i = 1, math.min(limit, #found) do
  out[#out + 1] = redis.call('HGETALL', jobkey(found[i][1]))
end
return out
