-- delete-job: deletes a job and cancels its pending runs (reason 'job deleted').
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  job key
-- ARGV[3]  expected version or ''
-- Returns: the deleted job hash (flat list), or an empty list when there was none.
-- Errors:  'CONFLICT …' when the expected version does not match. Publishes 'jobs'.
-- @include lib/common.lua
-- @include lib/runs.lua

local key, expected = ARGV[2], ARGV[3]
local jk = jobkey(key)
local job = redis.call('HGETALL', jk)
if #job == 0 then return {} end
local version = redis.call('HGET', jk, 'version')
if expected ~= '' and version ~= expected then
  raise('CONFLICT job ' .. key .. ' is at version ' .. version .. ', not ' .. expected)
end
for _, seq in ipairs(redis.call('SMEMBERS', K('jobactive:' .. key))) do
  if redis.call('HGET', runkey(seq), 'state') == 'pending' then
    finish(seq, 'cancelled', 'job deleted', nil, nil)
  end
end
local partition = redis.call('HGET', jk, 'partition')
redis.call('DEL', jk)
redis.call('ZREM', K('jobs'), key)
redis.call('ZREM', K('due'), key)
redis.call('ZREM', K('due:' .. partition), key)
publish('jobs')
return job
