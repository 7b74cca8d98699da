-- streams: the state of streams, creating the epoch of those Redis does
-- not know; with ARGV[4] > 0 also the newest entries above an offset.
-- KEYS: meta1, stream1, meta2, stream2, ...
-- ARGV[1] new epoch, ARGV[2] age bound ms, ARGV[3] epoch TTL ms
-- ARGV[4] the offset to read above (history of the one stream), or -1
-- ARGV[5] most entries to return
-- Returns per stream: epoch, offset, oldest offset held (0 for none),
-- then, when reading, the entries as XREVRANGE gives them.
local t = redis.call('TIME')
local minid = (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) - tonumber(ARGV[2])
if minid < 0 then minid = 0 end
local out = {}
for i = 1, #KEYS / 2 do
  local meta, s = KEYS[2 * i - 1], KEYS[2 * i]
  redis.call('HSETNX', meta, 'e', ARGV[1])
  redis.call('PEXPIRE', meta, ARGV[3])
  local v = redis.call('HMGET', meta, 'e', 'o')
  local top = tonumber(v[2] or '0') or 0
  local oldest = 0
  local first = redis.call('XRANGE', s, minid, '+', 'COUNT', 1)
  if #first > 0 then
    local f = first[1][2]
    for j = 1, #f, 2 do
      if f[j] == 'o' then oldest = tonumber(f[j + 1]) end
    end
  end
  table.insert(out, v[1])
  table.insert(out, tostring(top))
  table.insert(out, tostring(oldest))
  local after = tonumber(ARGV[4])
  if after >= 0 and top > after then
    local count = math.min(top - after, tonumber(ARGV[5]))
    table.insert(out, redis.call('XREVRANGE', s, '+', minid, 'COUNT', count))
  elseif after >= 0 then
    table.insert(out, {})
  end
end
return out
