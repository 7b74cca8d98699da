-- append: keep one message in the history of every stream it targets and
-- publish it, with the positions it got, in one atomic step.
-- KEYS: meta1, stream1, meta2, stream2, ... (a hash {e: epoch, o: offset}
--       and a stream of entries {o: offset, g: sequence, m: message} per
--       stream), then the sequence key (a counter of appends, which orders
--       entries across streams)
-- ARGV[1] new epoch, for a stream the store does not know (HSETNX)
-- ARGV[2] most entries a stream keeps (MAXLEN)
-- ARGV[3] age bound of entries, ms (XTRIM MINID, PEXPIRE of the stream)
-- ARGV[4] time to live of a stream's epoch and offset, ms
-- ARGV[5] channel, ARGV[6] "1" for SPUBLISH
-- ARGV[7] the broker header, ARGV[8] the event envelope
-- ARGV[8+i] the JSON-quoted wire name of stream i
local n = (#KEYS - 1) / 2
local g = redis.call('INCR', KEYS[#KEYS])
redis.call('PEXPIRE', KEYS[#KEYS], ARGV[4])
local pos = {}
local offs = {}
for i = 1, n do
  local meta = KEYS[2 * i - 1]
  redis.call('HSETNX', meta, 'e', ARGV[1])
  local e = redis.call('HGET', meta, 'e')
  local o = redis.call('HINCRBY', meta, 'o', 1)
  redis.call('PEXPIRE', meta, ARGV[4])
  offs[i] = o
  pos[i] = ARGV[8 + i] .. ':"' .. e .. ':' .. o .. '"'
end
local env = ARGV[8]
local msg = ARGV[7] .. string.sub(env, 1, -2) .. ',"pos":{' .. table.concat(pos, ',') .. '}}'
local t = redis.call('TIME')
local minid = (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) - tonumber(ARGV[3])
for i = 1, n do
  local s = KEYS[2 * i]
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
