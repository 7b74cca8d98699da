-- append: keep one message in the history of every stream it targets and
-- publish it, with the positions it got, in one atomic step.
-- KEYS[1] the epoch (created with SET NX: Redis lost everything when it is
--         missing), KEYS[2] the count of appends (orders entries across
--         streams), then per stream i: KEYS[1+2i] its last offset (INCR),
--         KEYS[2+2i] its entries {o: offset, g: count, m: message}
-- ARGV[1] a new epoch, for when Redis has none
-- ARGV[2] most entries a stream keeps (MAXLEN)
-- ARGV[3] age bound of entries, ms (XTRIM MINID, PEXPIRE of the stream)
-- ARGV[4] time to live of a stream's offset, ms
-- ARGV[5] channel, ARGV[6] "1" for SPUBLISH
-- ARGV[7] the broker header, ARGV[8] the event envelope
-- ARGV[8+i] the JSON-quoted wire name of stream i
redis.call('SET', KEYS[1], ARGV[1], 'NX')
local e = redis.call('GET', KEYS[1])
local g = redis.call('INCR', KEYS[2])
local n = (#KEYS - 2) / 2
local pos = {}
local offs = {}
for i = 1, n do
  local ok = KEYS[1 + 2 * i]
  local o = redis.call('INCR', ok)
  redis.call('PEXPIRE', ok, ARGV[4])
  offs[i] = o
  pos[i] = ARGV[8 + i] .. ':"' .. e .. ':' .. o .. '"'
end
local env = ARGV[8]
local msg = ARGV[7] .. string.sub(env, 1, -2) .. ',"pos":{' .. table.concat(pos, ',') .. '}}'
local t = redis.call('TIME')
local minid = (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) - tonumber(ARGV[3])
for i = 1, n do
  local s = KEYS[2 + 2 * i]
  redis.call('XADD', s, 'MAXLEN', ARGV[2], '*', 'o', offs[i], 'g', g, 'm', msg)
  if minid > 0 then
    redis.call('XTRIM', s, 'MINID', minid)
  end
  redis.call('PEXPIRE', s, ARGV[3])
end
if ARGV[6] == '1' then
  redis.call('SPUBLISH', ARGV[5], msg)
else
  redis.call('PUBLISH', ARGV[5], msg)
end
return n
