-- register-node: joins or rejoins a node with a new, higher incarnation.
-- KEYS[1]  app base key
-- ARGV[1]  clock offset ms
-- ARGV[2]  node id
-- ARGV[3]  node info fields as JSON of strings: { host, pid, version, handlers (JSON text),
--          weight, concurrency }
-- Returns: the node hash (flat list). Bumps the membership version.
-- @include lib/common.lua

local id = ARGV[2]
local info = cjson.decode(ARGV[3])
local nk = nodekey(id)
local desired = redis.call('HGET', nk, 'desiredState')
local inc = redis.call('HINCRBY', K('incarnations'), id, 1)
local state = 'active'
if desired then state = desired end
redis.call('DEL', nk)
local f = { 'nodeId', id, 'app', APP, 'host', info.host, 'pid', info.pid, 'version', info.version,
  'handlers', info.handlers, 'weight', info.weight, 'concurrency', info.concurrency,
  'incarnation', n2s(inc), 'state', state, 'running', '0', 'joinedAt', n2s(NOW), 'lastHeartbeatAt', n2s(NOW) }
if desired then f[#f + 1] = 'desiredState'; f[#f + 1] = desired end
redis.call('HSET', nk, unpack(f))
redis.call('SADD', K('nodes'), id)
bump_membership()
return redis.call('HGETALL', nk)
