-- complete-run: ends a run the node incarnation owns, inserts its retry in the same step,
-- updates the hourly stats and re-arms a `delay-after` job when no retry follows.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  run seq
-- ARGV[3]  node id
-- ARGV[4]  incarnation
-- ARGV[5]  outcome: succeeded | failed | timed_out | cancelled
-- ARGV[6]  result as JSON text
-- ARGV[7]  error as JSON text, or ''
-- ARGV[8]  duration ms
-- ARGV[9]  retry run draft (JSON of strings), or ''
-- Returns: { run hash, retry run hash or empty list }. Publishes 'runs' (a retry, or runs of the
--          job still waiting) and 'jobs' (a re-armed delay-after job).
-- Errors:  'NOTFOUND run …'; 'FENCED run …' unless the run is running and owned by this incarnation.
-- @include lib/common.lua
-- @include lib/runs.lua

local seq, node, inc, outcome = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local rk = runkey(seq)
local r = redis.call('HMGET', rk, 'state', 'ownerNode', 'ownerIncarnation', 'jobKey')
if not r[1] then raise('NOTFOUND run ' .. runid(seq)) end
if r[1] ~= 'running' or r[2] ~= node or r[3] ~= inc or redis.call('HGET', nodekey(node), 'incarnation') ~= inc then
  raise('FENCED run ' .. runid(seq) .. ' is ' .. r[1] .. ' and not owned by ' .. node .. ' incarnation ' .. inc)
end
local state = outcome
if outcome == 'failed' and ARGV[9] == '' then state = 'dead' end
local duration = tonumber(ARGV[8])
local fields = { 'result', ARGV[6], 'durationMs', n2s(duration) }
if ARGV[7] ~= '' then fields[#fields + 1] = 'error'; fields[#fields + 1] = ARGV[7] end
finish(seq, state, nil, fields, duration)
local retry = {}
if ARGV[9] ~= '' then
  local rseq = insert_run(cjson.decode(ARGV[9]))
  retry = redis.call('HGETALL', runkey(rseq))
  publish('runs')
else
  if rearm_delay_after(r[4]) then publish('jobs') end
  -- A run of the same job may have waited for this one (serial): wake the other nodes.
  if r[4] and redis.call('SCARD', K('jobactive:' .. r[4])) > 0 then publish('runs') end
end
return { redis.call('HGETALL', rk), retry }
