-- list-audit: one keyset page of an app's audit entries, newest first. Reads only; bounded.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  limit
-- ARGV[3]  highest seq to include, or '+inf'
-- ARGV[4]  filters as JSON: { actor, targetType, targetId, from, to }
-- ARGV[5]  scan budget
-- Returns: { { entry hashes… }, position } as list-runs.
-- @include lib/common.lua

local limit, max, budget = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[5])
local f = cjson.decode(ARGV[4])
local min = '-inf'
if f.from then min = n2s(tonumber(f.from) * 1000) end
local from = f.from and tonumber(f.from)
local to = f.to and tonumber(f.to)
local out, last, position = {}, nil, ''
local off = 0
local CHUNK = math.min(budget, limit + 50)
while true do
  local batch = redis.call('ZREVRANGEBYSCORE', K('audit'), max, min, 'LIMIT', off, CHUNK)
  off = off + #batch
  local stop = false
  for _, seq in ipairs(batch) do
    if budget <= 0 or #out >= limit then
      position = last
      stop = true
      break
    end
    budget = budget - 1
    last = seq
    local r = redis.call('HMGET', K('audit:' .. seq), 'actor', 'targetType', 'targetId', 'at')
    local ok = r[1] ~= false
    if ok and f.actor and r[1] ~= f.actor then ok = false end
    if ok and f.targetType and r[2] ~= f.targetType then ok = false end
    if ok and f.targetId and r[3] ~= f.targetId then ok = false end
    if ok and from and tonumber(r[4]) < from then ok = false end
    if ok and to and tonumber(r[4]) >= to then ok = false end
    if ok then out[#out + 1] = redis.call('HGETALL', K('audit:' .. seq)) end
  end
  if stop or #batch < CHUNK then break end
end
return { out, position }
