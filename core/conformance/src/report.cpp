// Conformance reports: a text table per op and dtype, and JSON (written by hand: core has no JSON
// dependency).
#include <kiln/conformance.hpp>

#include <cstdio>
#include <map>
#include <sstream>
#include <tuple>

namespace kiln {

namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string json_number(double v) {
  if (!(v == v) || v > 1e308 || v < -1e308) return "null";  // JSON has no NaN or infinity
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

struct Tally {
  int passed = 0, failed = 0, skipped = 0;
};

}  // namespace

std::string format_conformance_table(const std::vector<ConformanceResult>& results) {
  // Keep the order of first appearance (ops.def order), grouping by op and dtype.
  std::vector<std::pair<std::string, std::string>> order;
  std::map<std::pair<std::string, std::string>, Tally> tallies;
  Tally total;
  for (const auto& r : results) {
    auto key = std::make_pair(r.op, r.dtype);
    if (!tallies.count(key)) order.push_back(key);
    Tally& t = tallies[key];
    if (r.skipped) ++t.skipped, ++total.skipped;
    else if (r.passed) ++t.passed, ++total.passed;
    else ++t.failed, ++total.failed;
  }
  std::ostringstream os;
  char line[160];
  std::snprintf(line, sizeof(line), "%-24s %-18s %8s %8s  %s\n", "op", "dtype", "passed", "skipped", "status");
  os << line;
  for (const auto& key : order) {
    const Tally& t = tallies[key];
    const char* status = t.failed ? "FAIL" : t.passed ? "PASS" : "SKIP";
    std::string passed = std::to_string(t.passed) + "/" + std::to_string(t.passed + t.failed);
    std::snprintf(line, sizeof(line), "%-24s %-18s %8s %8d  %s\n", key.first.c_str(), key.second.c_str(),
                  passed.c_str(), t.skipped, status);
    os << line;
  }
  os << "total: " << total.passed << " passed, " << total.failed << " failed, " << total.skipped << " skipped\n";
  if (total.failed) {
    os << "failures:\n";
    for (const auto& r : results)
      if (!r.passed && !r.skipped) os << "  " << r.op << " " << r.dtype << " " << r.case_name << ": " << r.message << "\n";
  }
  return os.str();
}

std::string conformance_json(const std::vector<ConformanceResult>& results) {
  Tally total;
  for (const auto& r : results) {
    if (r.skipped) ++total.skipped;
    else if (r.passed) ++total.passed;
    else ++total.failed;
  }
  std::ostringstream os;
  os << "{\n  \"summary\": {\"passed\": " << total.passed << ", \"failed\": " << total.failed
     << ", \"skipped\": " << total.skipped << "},\n  \"results\": [";
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    os << (i ? ",\n    " : "\n    ") << "{\"op\": " << json_string(r.op) << ", \"dtype\": " << json_string(r.dtype)
       << ", \"case\": " << json_string(r.case_name) << ", \"passed\": " << (r.passed ? "true" : "false")
       << ", \"skipped\": " << (r.skipped ? "true" : "false") << ", \"max_error\": " << json_number(r.max_error)
       << ", \"message\": " << json_string(r.message) << "}";
  }
  os << (results.empty() ? "]\n}\n" : "\n  ]\n}\n");
  return os.str();
}

}  // namespace kiln
