-- prune: deletes final runs by age and/or count, with every key and index entry they own:
-- the run hash, its log list, its index entries and its idempotency key.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  finishedBefore (ms) or ''
-- ARGV[3]  keepLast or ''
-- ARGV[4]  limit
-- Returns: how many runs were deleted, as a string.
-- @include lib/common.lua

local before = ARGV[2] ~= '' and tonumber(ARGV[2]) or nil
local keep = ARGV[3] ~= '' and tonumber(ARGV[3]) or nil
local limit = tonumber(ARGV[4])
local victims = {}

if keep then
  -- Final runs beyond the newest `keep` (by id), oldest first; with `before`, only those
  -- finished before it. Final runs are all runs but the pending and running ones.
  local excess = redis.call('ZCARD', K('runs')) - redis.call('ZCARD', K('runs:state:pending'))
    - redis.call('ZCARD', K('runs:state:running')) - keep
  local off = 0
  local budget = limit * 20 + 1000
  while excess > 0 and #victims < limit and budget > 0 do
    local batch = redis.call('ZRANGE', K('runs'), off, off + 499)
    if #batch == 0 then break end
    for _, seq in ipairs(batch) do
      if excess <= 0 or #victims >= limit or budget <= 0 then break end
      budget = budget - 1
      local finished = redis.call('ZSCORE', K('finished'), seq)
      if finished then
        excess = excess - 1
        if before == nil or tonumber(finished) < before then victims[#victims + 1] = seq end
      end
    end
    off = off + #batch
  end
elseif before then
  victims = redis.call('ZRANGEBYSCORE', K('finished'), '-inf', '(' .. n2s(before), 'LIMIT', 0, limit)
end

for _, seq in ipairs(victims) do
  local rk = runkey(seq)
  local r = redis.call('HMGET', rk, 'state', 'jobKey', 'ownerNode', 'idempotencyKey', 'parentRunId')
  if r[1] then
    redis.call('ZREM', K('runs:state:' .. r[1]), seq)
    if r[2] then
      redis.call('ZREM', K('runs:job:' .. r[2]), seq)
      redis.call('ZREM', sjkey(r[1], r[2]), seq)
    end
    if r[3] then redis.call('ZREM', K('runs:node:' .. r[3]), seq) end
    if r[5] then redis.call('ZREM', K('runs:parent:' .. r[5]), seq) end
    if r[4] and redis.call('HGET', K('idem'), r[4]) == seq then redis.call('HDEL', K('idem'), r[4]) end
  end
  redis.call('DEL', rk, B .. ':log:' .. seq)
  redis.call('ZREM', K('runs'), seq)
  redis.call('ZREM', K('finished'), seq)
end
return tostring(#victims)
