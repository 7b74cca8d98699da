-- session operations on one key, a hash {d: record, u: identity, x:
-- deadline in unix ms}.
-- ARGV[1] op:
--   "save"   ARGV[2] d, ARGV[3] u, ARGV[4] x, ARGV[5] TTL ms, ARGV[6] "1" to create
--   "touch"  ARGV[2] x, ARGV[3] TTL ms
--   "take"   ARGV[2] identity: returns {"ok", d, x}, {"forbidden"} or nil
local k = KEYS[1]
local op = ARGV[1]
if op == 'save' then
  if ARGV[6] ~= '1' and redis.call('EXISTS', k) == 0 then return 0 end
  redis.call('HSET', k, 'd', ARGV[2], 'u', ARGV[3], 'x', ARGV[4])
  redis.call('PEXPIRE', k, ARGV[5])
  return 1
elseif op == 'touch' then
  if redis.call('EXISTS', k) == 0 then return 0 end
  redis.call('HSET', k, 'x', ARGV[2])
  redis.call('PEXPIRE', k, ARGV[3])
  return 1
elseif op == 'take' then
  local v = redis.call('HMGET', k, 'd', 'u', 'x')
  if not v[1] then return nil end
  if v[2] and v[2] ~= '' and v[2] ~= ARGV[2] then return {'forbidden'} end
  redis.call('DEL', k)
  return {'ok', v[1], v[3] or '0'}
end
return redis.error_reply('unknown op')
