-- list-nodes: every node of the app.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- Returns: a list of node hashes (each a flat list), in no particular order.
-- @include lib/common.lua

local out = {}
for _, id in ipairs(redis.call('SMEMBERS', K('nodes'))) do
  local h = redis.call('HGETALL', nodekey(id))
  if #h > 0 then out[#out + 1] = h end
end
return out
