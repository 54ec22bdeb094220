-- save-job: writes a job definition with compare-and-set on its version.
-- KEYS[1]  app base key `{<prefix>:<app>}`
-- ARGV[1]  clock offset ms
-- ARGV[2]  mode: 'create' | 'update' | 'any'
-- ARGV[3]  expected version (mode 'update'), else ''
-- ARGV[4]  job key
-- ARGV[5]  the JobDraft as JSON text (stored opaque)
-- ARGV[6]  enabled '1' | '0'
-- ARGV[7]  partition
-- ARGV[8]  nextFireAt or ''
-- ARGV[9]  lastFireAt or ''
-- ARGV[10] delay-after ms when the schedule is `delay-after`, else ''
-- Returns: the job hash as a flat field/value list.
-- Errors:  'CONFLICT …' when the compare-and-set fails. Publishes 'jobs'.
-- @include lib/common.lua

local mode, expected, key = ARGV[2], ARGV[3], ARGV[4]
local jk = jobkey(key)
local cur = redis.call('HMGET', jk, 'version', 'createdAt', 'partition')
local exists = cur[1] ~= false
if mode == 'create' and exists then raise('CONFLICT job ' .. key .. ' already exists') end
if mode == 'update' then
  if not exists then raise('CONFLICT job ' .. key .. ' does not exist') end
  if cur[1] ~= expected then
    raise('CONFLICT job ' .. key .. ' is at version ' .. cur[1] .. ', not ' .. expected)
  end
end
local version = 1
local created = n2s(NOW)
if exists then
  version = tonumber(cur[1]) + 1
  created = cur[2]
  if cur[3] ~= ARGV[7] then
    redis.call('ZREM', K('due:' .. cur[3]), key)
  end
end
redis.call('DEL', jk)
local f = { 'key', key, 'd', ARGV[5], 'enabled', ARGV[6], 'partition', ARGV[7], 'version', n2s(version),
  'createdAt', created, 'updatedAt', n2s(NOW) }
if ARGV[8] ~= '' then f[#f + 1] = 'nextFireAt'; f[#f + 1] = ARGV[8] end
if ARGV[9] ~= '' then f[#f + 1] = 'lastFireAt'; f[#f + 1] = ARGV[9] end
if ARGV[10] ~= '' then f[#f + 1] = 'delayAfterMs'; f[#f + 1] = ARGV[10] end
redis.call('HSET', jk, unpack(f))
redis.call('ZADD', K('jobs'), 0, key)
if ARGV[6] == '1' and ARGV[8] ~= '' then
  redis.call('ZADD', K('due'), ARGV[8], key)
  redis.call('ZADD', K('due:' .. ARGV[7]), ARGV[8], key)
else
  redis.call('ZREM', K('due'), key)
  redis.call('ZREM', K('due:' .. ARGV[7]), key)
end
publish('jobs')
return redis.call('HGETALL', jk)
