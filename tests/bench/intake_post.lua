-- wrk script for tests/bench/intake.sh: POST /forms/departments with a valid,
-- distinct return each time (distinct remarks, so no post is a repeat of
-- another and every 303 is a new durable row).
local threads = {}
local base = "unit_name=%E6%A2%85%E5%B7%9E%E5%B8%82%E6%95%99%E8%82%B2%E5%B1%80"
  .. "&uscc=11441700007280420Y"
  .. "&unit_type=%E6%9C%BA%E5%85%B3"
  .. "&address=%E6%A2%85%E5%B7%9E%E5%B8%82%E6%A2%85%E6%B1%9F%E5%8C%BA%E6%B1%9F%E5%8D%97%E8%B7%AF1%E5%8F%B7"
  .. "&postcode=514000"
  .. "&admin_name=%E5%BC%A0%E4%B8%89"
  .. "&admin_title=%E7%A7%91%E9%95%BF"
  .. "&admin_section=%E4%BA%BA%E4%BA%8B%E7%A7%91"
  .. "&office_phone=0753-2128309"
  .. "&mobile=13812345678"
  .. "&fax=0753-2128310"
  .. "&email=admin%40example.org"
  .. "&filled_by=%E6%9D%8E%E5%9B%9B"
  .. "&website="

counter = 0

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  -- a run tag keeps two runs against the same database from being repeats
  tag = args[1] or tostring(os.time())
end

function request()
  counter = counter + 1
  local body = base .. "&remarks=bench-" .. tag .. "-" .. tostring(id or 0) .. "-" .. tostring(counter)
  return wrk.format("POST", "/forms/departments", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, body)
end
