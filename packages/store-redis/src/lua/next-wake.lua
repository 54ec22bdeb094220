-- next-wake: the earliest time something may become due for a node: the smallest nextFireAt
-- of the enabled jobs in its partitions and the smallest dueAt of the pending runs it may claim.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  node id
-- ARGV[3]  number of handlers H
-- ARGV[4 … 3+H]  handlers
-- ARGV[4+H …]    partitions, or the single value '*' for all
-- Returns: the time as a string, or '' when nothing is scheduled.
-- @include lib/common.lua

local node = ARGV[2]
local nh = tonumber(ARGV[3])
local best = nil
local function consider(key)
  local r = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if #r > 0 then
    local s = tonumber(r[2])
    if best == nil or s < best then best = s end
  end
end
if ARGV[4 + nh] == '*' then
  consider(K('due'))
else
  for i = 4 + nh, #ARGV do consider(K('due:' .. ARGV[i])) end
end
for i = 4, 3 + nh do
  local h = ARGV[i]
  for _, t in ipairs({ '', node }) do
    for _, p in ipairs(redis.call('ZRANGE', qpkey(h, t), 0, -1)) do consider(qkey(h, t, p)) end
  end
end
if best == nil then return '' end
return n2s(best)
