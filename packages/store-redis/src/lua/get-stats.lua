-- get-stats: the hourly stats with hour in [from, to): every job's fields, one job's, or the
-- app's totals.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  from (ms, inclusive)
-- ARGV[3]  to (ms, exclusive)
-- ARGV[4]  '' for every job's fields; '|<jobKey>' for one job's (HMGET, not the whole hash);
--          '*' for the app's totals (`B:stats:<hour>:all`, summed here from the per-job fields
--          for hours written before the totals existed)
-- Returns: a list of { hour, flat list of field to value } where a field is '<metric>' or
--          '<metric>|<jobKey>' (totals: bare '<metric>'). With mode '' the flat list comes as
--          one JSON array text (every job's fields of an hour: one reply element to parse, not
--          ~9 per job).
-- @include lib/common.lua

local METRICS = { 'succeeded', 'failed', 'dead', 'timedOut', 'cancelled', 'lost', 'skipped', 'totalDurationMs',
  'maxDurationMs' }
local mode = ARGV[4]
local out = {}
for _, hour in ipairs(redis.call('ZRANGEBYSCORE', K('stats:hours'), ARGV[2], '(' .. ARGV[3])) do
  local hk = K('stats:' .. hour)
  local flat
  if mode == '' then
    flat = redis.call('HGETALL', hk)
    if #flat > 0 then flat = { cjson.encode(flat) } end
  elseif mode == '*' then
    flat = redis.call('HGETALL', hk .. ':all')
    if #flat == 0 then
      local sum, order = {}, {}
      local all = redis.call('HGETALL', hk)
      for i = 1, #all, 2 do
        local metric = string.match(all[i], '^([^|]+)')
        local v = tonumber(all[i + 1])
        if sum[metric] == nil then
          order[#order + 1] = metric
          sum[metric] = v
        elseif metric == 'maxDurationMs' then
          if v > sum[metric] then sum[metric] = v end
        else
          sum[metric] = sum[metric] + v
        end
      end
      flat = {}
      for _, metric in ipairs(order) do
        flat[#flat + 1] = metric
        flat[#flat + 1] = n2s(sum[metric])
      end
    end
  else
    local names = {}
    for i, metric in ipairs(METRICS) do names[i] = metric .. mode end
    local values = redis.call('HMGET', hk, unpack(names))
    flat = {}
    for i, v in ipairs(values) do
      if v then
        flat[#flat + 1] = names[i]
        flat[#flat + 1] = v
      end
    end
  end
  if #flat > 0 then out[#out + 1] = { hour, flat } end
end
return out
