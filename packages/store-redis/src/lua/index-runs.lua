-- index-runs: builds the per-(state, job) run sets (`B:runs:sj:<state>:<jobKey>`) of an app whose
-- runs were written before they existed, one bounded batch per call, newest runs first from where
-- the last call stopped (`B:sjidx:at`, shared by every caller). Each run of the batch joins the
-- set of its job and of its state as read in this step. Every step that changes a run's state
-- keeps the sets from then on, before and after the walk passes the run, and runs inserted after
-- the walk began are above it and kept by their inserts; so when the walk has passed the oldest
-- run the sets are complete, and this step sets `B:sjidx`, which listings wait for.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  batch: runs read at most in this call (at most 3000, so that one ZADD stays within
--          Lua's unpack limit)
-- Returns: { done '1' | '0', runs read in this call } (numbers as strings): done is '1' when the
--          marker is set (now or before).
-- @include lib/common.lua

if redis.call('EXISTS', K('sjidx')) == 1 then return { '1', '0' } end
local batch = math.max(1, math.min(3000, tonumber(ARGV[2])))
local top = redis.call('GET', K('sjidx:at')) or '+inf'
local seqs = redis.call('ZREVRANGEBYSCORE', K('runs'), top, '-inf', 'LIMIT', 0, batch)

-- One ZADD per (state, job) of the batch (the members as score, member pairs).
local sets, order = {}, {}
for _, seq in ipairs(seqs) do
  local r = redis.call('HMGET', runkey(seq), 'state', 'jobKey')
  if r[1] and r[2] then
    local k = sjkey(r[1], r[2])
    local members = sets[k]
    if not members then
      members = {}
      sets[k] = members
      order[#order + 1] = k
    end
    members[#members + 1] = seq
    members[#members + 1] = seq
  end
end
for _, k in ipairs(order) do redis.call('ZADD', k, unpack(sets[k])) end

if #seqs < batch then
  redis.call('SET', K('sjidx'), '1')
  redis.call('DEL', K('sjidx:at'))
  return { '1', tostring(#seqs) }
end
redis.call('SET', K('sjidx:at'), '(' .. seqs[#seqs])
return { '0', tostring(#seqs) }
