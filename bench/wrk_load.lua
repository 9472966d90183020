-- wrk's script for the HTTP benchmark (bench/wrk.py writes the plan and reads the result).
--
-- The plan is a Lua file named by BENCH_WRK_PLAN, read when the script loads: wrk loads this
-- script once per thread and once more for setup()/done(), and decides whether delay() exists
-- when it loads, so the plan has to be there before init() runs.
--
-- Every request gets a number n that no other request of the whole benchmark run gets:
-- n = offset + thread + sent * threads (offset: where the previous wrk run stopped, reported
-- back by done()). From n come the fresh Idempotency-Key and, by mode:
--   reference: a transfer between two random wallets of the reference endpoint;
--   funding:   POST /v1/funding as user n mod #tokens;
--   sales:     POST /v1/campaigns/{id}/sales-events of the campaigns in turn, a new order each
--              (its number n), signed as a shop signs it: HMAC-SHA256 of "<t>.<body>" with the
--              campaign's secret, computed by OpenSSL's libcrypto (wrk links it) through FFI;
--   tracking:  GET /t/{code} of the links in turn, each as a new visitor (an address of its
--              own from n, as X-Forwarded-For from the trusted local proxy, and one of three
--              browsers' user agents), so that every click is counted (its campaign row locked);
--   claim:     a (job, creator) pair never claimed before: jobs come in windows of `window`
--              jobs, and within a window n walks the jobs first, so requests in flight together
--              claim different jobs (a claim locks its job's row) as different creators.
-- With plan.rate > 0, delay() holds each thread to a fixed schedule (an open loop: request k of
-- a thread is due at start + k / its share of the rate); a request that no free connection
-- could send on time is counted late, since wrk measures latency from the moment it is sent.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
typedef struct bench_evp_md bench_evp_md;
const bench_evp_md *EVP_sha256(void);
unsigned char *HMAC(const bench_evp_md *md, const void *key, int key_len,
                    const unsigned char *data, size_t data_len,
                    unsigned char *out, unsigned int *out_len);
]]
local CLOCK_MONOTONIC = 1
local clock = ffi.new("bench_timespec")

local function now_ms()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
   return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local plan = dofile(os.getenv("BENCH_WRK_PLAN"))

-- Globals, so that done() can read them from each thread with thread:get().
tid = 0
sent = 0
late = 0
late_max_ms = 0
exhausted = 0
failed = 0
first_error = ""

-- setup() and done() run in their own Lua state.
local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   math.randomseed(os.time() * 1000 + tid)
end

local json_headers = { ["Content-Type"] = "application/json" }

local function reference_request(key)
   local a = math.random(1, plan.wallets)
   local b = 1 + (a + math.random(1, plan.wallets - 1) - 1) % plan.wallets
   local body = string.format('{"debit":%d,"credit":%d,"amount":%d}', a, b,
                              math.random(100, 10000))
   json_headers["Idempotency-Key"] = key
   return wrk.format("POST", "/transfer", json_headers, body)
end

local function funding_request(n, key)
   json_headers["Idempotency-Key"] = key
   json_headers["Authorization"] = plan.tokens[(n % #plan.tokens) + 1]
   return wrk.format("POST", "/v1/funding", json_headers, plan.body)
end

local claim_headers = {}

local function claim_request(n, key)
   local creators = #plan.tokens
   local per_window = plan.window * creators
   local window = math.floor(n / per_window)
   local inside = n % per_window
   local job = inside % plan.window
   local round = math.floor(inside / plan.window)
   local uid = plan.jobs[window * plan.window + job + 1]
   if uid == nil then
      -- More requests than jobs set up for: this one repeats a claim and is refused (409).
      exhausted = exhausted + 1
      uid = plan.jobs[(n % #plan.jobs) + 1]
   end
   claim_headers["Idempotency-Key"] = key
   claim_headers["Authorization"] = plan.tokens[((round + job) % creators) + 1]
   return wrk.format("POST", "/v1/marketplace/jobs/" .. uid .. "/claims", claim_headers, nil)
end

local tracking_headers = {}
local browsers = {
   "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
      .. " Chrome/131.0.0.0 Safari/537.36",
   "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15"
      .. " (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
   "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
}

local function tracking_request(n)
   tracking_headers["User-Agent"] = browsers[(n % #browsers) + 1]
   tracking_headers["X-Forwarded-For"] = string.format(
      "10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
   return wrk.format("GET", "/t/" .. plan.codes[(n % #plan.codes) + 1], tracking_headers, nil)
end

local digest = ffi.new("unsigned char[32]")
local digest_len = ffi.new("unsigned int[1]")
local hex = {}

local function hmac_sha256_hex(key, data)
   ffi.C.HMAC(ffi.C.EVP_sha256(), key, #key, data, #data, digest, digest_len)
   for i = 0, 31 do
      hex[i + 1] = string.format("%02x", digest[i])
   end
   return table.concat(hex)
end

local sales_headers = { ["Content-Type"] = "application/json" }

local function sales_request(n)
   local campaign = plan.sales[(n % #plan.sales) + 1]
   local body = string.format(
      '{"type":"sale","order_id":"%s%d","amount":%d,"currency":"USD","coupon":"%s"}',
      plan.key_prefix, n, 1000 + n % 9000, campaign.coupon)
   local t = os.time()
   sales_headers["Creatorhub-Signature"] = string.format(
      "t=%d,v1=%s", t, hmac_sha256_hex(campaign.secret, t .. "." .. body))
   return wrk.format("POST", "/v1/campaigns/" .. campaign.id .. "/sales-events", sales_headers,
                     body)
end

function request()
   local n = plan.offset + tid + sent * plan.threads
   sent = sent + 1
   local key = plan.key_prefix .. n
   if plan.mode == "reference" then
      return reference_request(key)
   elseif plan.mode == "funding" then
      return funding_request(n, key)
   elseif plan.mode == "tracking" then
      return tracking_request(n)
   elseif plan.mode == "sales" then
      return sales_request(n)
   else
      return claim_request(n, key)
   end
end

function response(status, headers, body)
   if status >= 400 then
      failed = failed + 1
      if first_error == "" then
         first_error = status .. " " .. string.sub(body or "", 1, 300)
      end
   end
end

if plan.rate > 0 then
   local interval = 1000 * plan.threads / plan.rate -- ms between this thread's requests
   local next_due = nil

   function delay()
      local now = now_ms()
      if next_due == nil then
         next_due = now
      end
      local due = next_due
      next_due = next_due + interval
      local wait = due - now
      if wait < -1 then
         late = late + 1
         if -wait > late_max_ms then
            late_max_ms = -wait
         end
      end
      if wait <= 0 then
         return 0
      end
      return math.floor(wait)
   end
end

function done(summary, latency, requests)
   local sent_max, late_total, late_max, exhausted_total = 0, 0, 0, 0
   local error_text = ""
   for _, thread in ipairs(threads) do
      sent_max = math.max(sent_max, thread:get("sent"))
      late_total = late_total + thread:get("late")
      late_max = math.max(late_max, thread:get("late_max_ms"))
      exhausted_total = exhausted_total + thread:get("exhausted")
      if error_text == "" then
         error_text = thread:get("first_error")
      end
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d status_errors=%d connect_errors=%d"
         .. " read_errors=%d write_errors=%d timeouts=%d mean_us=%.1f p50_us=%d p90_us=%d"
         .. " p99_us=%d max_us=%d next_offset=%d late=%d late_max_ms=%.1f exhausted=%d\n",
      summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
      latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, plan.offset + sent_max * plan.threads, late_total, late_max,
      exhausted_total))
   if error_text ~= "" then
      io.write("BENCH_ERROR " .. (string.gsub(error_text, "\n", " ")) .. "\n")
   end
end
