-- cancel-run: a pending run becomes cancelled; a running one gets cancelRequested; a final one
-- is left as it is.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  run seq
-- ARGV[3]  reason
-- Returns: the run hash (flat list).
-- Errors:  'NOTFOUND run …'.
-- @include lib/common.lua
-- @include lib/runs.lua

local seq = ARGV[2]
local rk = runkey(seq)
local r = redis.call('HMGET', rk, 'state', 'jobKey')
if not r[1] then raise('NOTFOUND run ' .. runid(seq)) end
if r[1] == 'pending' then
  finish(seq, 'cancelled', ARGV[3], nil, nil)
  if rearm_delay_after(r[2]) then publish('jobs') end
  publish('runs')
elseif r[1] == 'running' then
  redis.call('HSET', rk, 'cancelRequested', '1', 'reason', ARGV[3])
end
return redis.call('HGETALL', rk)
