-- retarget-runs: moves pending targeted runs to another node (or to any node).
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  leader epoch
-- ARGV[3…] triples: run seq, from node ('' for none), to node ('' for none)
-- Returns: how many runs moved, as a string. Publishes 'runs' when any moved.
-- Errors:  'FENCED leader …' unless the epoch holds the current, unexpired lease.
-- @include lib/common.lua
-- @include lib/runs.lua

local l = redis.call('HMGET', K('leader'), 'epoch', 'expiresAt')
if l[1] ~= ARGV[2] or tonumber(l[2]) <= NOW then
  raise('FENCED leader epoch ' .. ARGV[2] .. ' is not the current unexpired lease')
end
local moved = 0
for i = 3, #ARGV, 3 do
  local seq, from, to = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local rk = runkey(seq)
  local r = redis.call('HMGET', rk, 'state', 'targetNode', 'handler', 'priority', 'dueAt', 'w')
  if r[1] == 'pending' and (r[2] or '') == from then
    -- A run waiting behind its job's head is not in a queue: its new target applies when it moves up.
    if not r[6] then dequeue(seq, r[3], from, r[4]) end
    if to == '' then redis.call('HDEL', rk, 'targetNode') else redis.call('HSET', rk, 'targetNode', to) end
    if not r[6] then enqueue(seq, r[3], to, r[4], r[5]) end
    moved = moved + 1
  end
end
if moved > 0 then publish('runs') end
return tostring(moved)
