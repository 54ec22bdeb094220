-- fire-jobs: materializes fire times once: compare-and-set on each job's nextFireAt, then
-- inserts the fire's runs (idempotency keys and block strategies apply).
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2…] one JSON object per fire: { jobKey, expected, next ('' for none), last,
--          runs = [run drafts as encoded by codec.ts] }
-- Returns: per fire { jobKey, fired '1'|'0', { inserted run hashes… } }. Publishes 'runs'.
-- @include lib/common.lua
-- @include lib/runs.lua

local out = {}
local any = false
for i = 2, #ARGV do
  local f = cjson.decode(ARGV[i])
  local jk = jobkey(f.jobKey)
  local j = redis.call('HMGET', jk, 'enabled', 'nextFireAt', 'partition')
  local inserted = {}
  local fired = '0'
  if j[1] == '1' and j[2] == f.expected then
    fired = '1'
    redis.call('HSET', jk, 'lastFireAt', f.last, 'updatedAt', n2s(NOW))
    redis.call('HINCRBY', jk, 'version', 1)
    if f.next ~= '' then
      redis.call('HSET', jk, 'nextFireAt', f.next)
      redis.call('ZADD', K('due'), f.next, f.jobKey)
      redis.call('ZADD', K('due:' .. j[3]), f.next, f.jobKey)
    else
      redis.call('HDEL', jk, 'nextFireAt')
      redis.call('ZREM', K('due'), f.jobKey)
      redis.call('ZREM', K('due:' .. j[3]), f.jobKey)
    end
    for _, d in ipairs(f.runs) do
      local seq, created = insert_run(d)
      if created then
        inserted[#inserted + 1] = redis.call('HGETALL', runkey(seq))
        any = true
      end
    end
  end
  out[#out + 1] = { f.jobKey, fired, inserted }
end
if any then publish('runs') end
return out
