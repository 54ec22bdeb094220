-- count-runs: how many runs of the app are in each given state.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2…] states
-- Returns: one count per state, as strings, in the order given.
-- @include lib/common.lua

local out = {}
for i = 2, #ARGV do out[#out + 1] = tostring(redis.call('ZCARD', K('runs:state:' .. ARGV[i]))) end
return out
