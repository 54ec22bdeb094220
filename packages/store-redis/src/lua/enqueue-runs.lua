-- enqueue-runs: inserts runs; an existing idempotency key returns the existing run instead;
-- a job's block strategy applies against its pending and running runs.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2…] one run draft per argument, JSON of strings (see encodeRunDraft in codec.ts)
-- Returns: per draft { created '1'|'0', run hash (flat list) }. Publishes 'runs'.
-- @include lib/common.lua
-- @include lib/runs.lua

local out = {}
local any = false
for i = 2, #ARGV do
  local seq, created = insert_run(cjson.decode(ARGV[i]))
  if created then any = true end
  out[#out + 1] = { created and '1' or '0', redis.call('HGETALL', runkey(seq)) }
end
if any then publish('runs') end
return out
