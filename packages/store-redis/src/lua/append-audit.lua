-- append-audit: appends an audit entry with a new id and the store's time.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  the entry as JSON of strings: { actor, action, targetType, targetId, before, after }
--          (before/after are JSON text)
-- Returns: the entry hash (flat list).
-- @include lib/common.lua

local e = cjson.decode(ARGV[2])
local seq = next_seq()
local ak = K('audit:' .. seq)
redis.call('HSET', ak, 'seq', seq, 'actor', e.actor, 'action', e.action, 'targetType', e.targetType,
  'targetId', e.targetId, 'before', e.before, 'after', e.after, 'at', n2s(NOW))
redis.call('ZADD', K('audit'), seq, seq)
return redis.call('HGETALL', ak)
