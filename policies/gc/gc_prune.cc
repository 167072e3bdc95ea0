#include "policies/gc/gc_prune.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <regex>
#include <set>

#include "base/units.h"

namespace cachewarden {
namespace {

const std::set<std::string, std::less<>> kFields = {"id",        "type",   "inuse",  "mutable",
                                                    "immutable", "shared", "private"};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

std::string Unquote(std::string_view v) {
  v = Trim(v);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return std::string(v);
}

// A field's value and whether it is set, as BuildKit's prune adapts a record to the filter.
std::pair<std::string, bool> FieldOf(const BuildkitRecord& r, std::string_view field) {
  if (field == "id") return {r.id, !r.id.empty()};
  if (field == "type") return {r.type.empty() ? "regular" : r.type, true};
  if (field == "inuse") return {"", r.in_use};
  if (field == "mutable") return {"", r.mutable_};
  if (field == "immutable") return {"", !r.mutable_};
  if (field == "shared") return {"", r.shared};
  if (field == "private") return {"", !r.shared};
  return {"", false};
}

bool TermHolds(const BuildkitFilterTerm& t, const BuildkitRecord& r) {
  auto [value, set] = FieldOf(r, t.field);
  switch (t.op) {
    case BuildkitFilterTerm::Op::kPresent:
      return set;
    case BuildkitFilterTerm::Op::kEquals:
      return set && value == t.value;
    case BuildkitFilterTerm::Op::kNotEquals:
      return !set || value != t.value;
    case BuildkitFilterTerm::Op::kMatches:
      return set && std::regex_search(value, std::regex(t.value));
  }
  return false;
}

std::string Ago(SystemTime now, const std::optional<SystemTime>& t) {
  if (!t) return "never used";
  const Duration age = now > *t ? Duration(now - *t) : Duration(0);
  return "used " + FormatDuration(std::chrono::duration_cast<std::chrono::seconds>(age)) + " ago";
}

}  // namespace

bool ParseBuildkitFilter(std::string_view text, BuildkitFilter* out, std::string* error) {
  out->clear();
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view term = Trim(text.substr(start, comma - start));
    start = comma + 1;
    if (term.empty()) {
      *error = "an empty term (expected field==value, field!=value, field~=regex or field)";
      return false;
    }
    BuildkitFilterTerm t;
    std::size_t at = std::string_view::npos;
    for (const auto& [op, spelling] :
         {std::pair{BuildkitFilterTerm::Op::kEquals, std::string_view("==")},
          std::pair{BuildkitFilterTerm::Op::kNotEquals, std::string_view("!=")},
          std::pair{BuildkitFilterTerm::Op::kMatches, std::string_view("~=")}}) {
      if (std::size_t p = term.find(spelling); p != std::string_view::npos && p < at) {
        at = p;
        t.op = op;
      }
    }
    if (at == std::string_view::npos) {
      t.field = std::string(term);
    } else {
      t.field = std::string(Trim(term.substr(0, at)));
      t.value = Unquote(term.substr(at + 2));
    }
    if (!kFields.contains(t.field)) {
      *error = fmt::format(
          "unknown field \"{}\" (BuildKit's prune matches id, type, inuse, mutable, immutable, "
          "shared, private)",
          t.field);
      return false;
    }
    if (t.op == BuildkitFilterTerm::Op::kMatches) {
      try {
        std::regex check(t.value);
      } catch (const std::regex_error& e) {
        *error = fmt::format("\"{}\" is not a regular expression: {}", t.value, e.what());
        return false;
      }
    }
    out->push_back(std::move(t));
    if (comma == text.size()) break;
  }
  return true;
}

bool BuildkitFiltersMatch(const std::vector<std::string>& filters, const BuildkitRecord& record) {
  if (filters.empty()) return true;
  for (const auto& f : filters) {
    BuildkitFilter parsed;
    std::string error;
    if (!ParseBuildkitFilter(f, &parsed, &error)) continue;
    if (std::all_of(parsed.begin(), parsed.end(),
                    [&](const BuildkitFilterTerm& t) { return TermHolds(t, record); })) {
      return true;
    }
  }
  return false;
}

bool ReservedSpaceSemantics(const std::string& version) {
  unsigned major = 0, minor = 0;
  const char* text = version.c_str();
  if (*text == 'v') ++text;
  if (std::sscanf(text, "%u.%u", &major, &minor) != 2) return false;
  return major > 0 || minor >= 17;
}

std::int64_t WatermarkCap(const GcPruneSettings& s, std::int64_t total, std::uint64_t need_bytes) {
  if (s.keep_bytes > 0 || s.max_used_space > 0 || s.min_free_space > 0) return 0;
  if (need_bytes == 0 || total <= 0 || need_bytes >= static_cast<std::uint64_t>(total)) return 0;
  return total - static_cast<std::int64_t>(need_bytes);
}

BuildkitPruneRequest PruneRequestOf(const GcPruneSettings& s, std::int64_t watermark_cap,
                                    bool reserved_space_semantics) {
  BuildkitPruneRequest r;
  r.filters = s.filters;
  r.all = s.all;
  r.keep_duration = s.keep_duration;
  r.keep_bytes = s.keep_bytes;
  r.max_used_space = s.max_used_space;
  r.min_free_space = s.min_free_space;
  if (watermark_cap > 0) {
    (reserved_space_semantics ? r.max_used_space : r.keep_bytes) = watermark_cap;
  }
  return r;
}

void PlanPrune(const GcPolicy& policy, const std::vector<BuildkitRecord>& records,
               bool reserved_space_semantics, const VolumeData* volume, SystemTime now,
               GcPlan* plan) {
  const GcPruneSettings& s = policy.prune;
  struct Candidate {
    GcPlanItem item;
    std::optional<SystemTime> last_used;
  };
  std::vector<Candidate> eligible;
  std::vector<GcPlanItem> others;
  std::int64_t total = 0;
  for (const BuildkitRecord& r : records) {
    total += r.size;
    GcPlanItem item;
    item.entry.name = r.id;
    item.entry.is_dir = false;
    item.entry.bytes = r.size > 0 ? static_cast<std::uint64_t>(r.size) : 0;
    const std::optional<SystemTime> used = r.last_used ? r.last_used : r.created;
    if (used) {
      item.entry.newest = *used;
      item.age = now > *used ? Duration(now - *used) : Duration(0);
    }
    const std::string type = r.type.empty() ? "regular" : r.type;
    item.decision = GcDecision::kSkip;
    if (r.in_use) {
      item.decision = GcDecision::kKeep;
      item.why = type + ", in use by a build";
    } else if (!s.all && (r.shared || type == "internal" || type == "frontend")) {
      item.skip = SkipReason::kExcluded;
      item.why = type + (r.shared ? ", shared" : "") + ": pruned only with all";
    } else if (s.keep_duration > Duration(0) && r.last_used &&
               *r.last_used > now - s.keep_duration) {
      item.skip = SkipReason::kYoung;
      item.why = fmt::format("{}, young ({} < keep_duration {})", type, Ago(now, r.last_used),
                             FormatDuration(s.keep_duration));
    } else if (!BuildkitFiltersMatch(s.filters, r)) {
      item.skip = SkipReason::kExcluded;
      item.why = type + ", not matched by filters";
    } else {
      item.decision = GcDecision::kKeep;
      item.why = type + ", " + Ago(now, r.last_used);
      eligible.push_back({std::move(item), r.last_used});
      continue;
    }
    others.push_back(std::move(item));
  }
  // BuildKit frees the least recently used first; a record never used goes before any used one.
  std::stable_sort(eligible.begin(), eligible.end(), [](const Candidate& a, const Candidate& b) {
    if (a.last_used.has_value() != b.last_used.has_value()) return !a.last_used.has_value();
    if (a.last_used && *a.last_used != *b.last_used) return *a.last_used < *b.last_used;
    return a.item.entry.name < b.item.entry.name;
  });
  const std::int64_t watermark = WatermarkCap(s, total, plan->need_bytes);
  const std::int64_t cap =
      watermark > 0 ? watermark
                    : (s.max_used_space > 0 ? s.max_used_space
                                            : (reserved_space_semantics ? 0 : s.keep_bytes));
  const std::string_view cap_name = watermark > 0
                                        ? "the low watermark's cap"
                                        : (s.max_used_space > 0 ? "max_used_space" : "keep_bytes");
  const std::int64_t floor =
      reserved_space_semantics && (s.max_used_space > 0 || s.min_free_space > 0) ? s.keep_bytes : 0;
  const bool byte_bound = cap > 0 || s.min_free_space > 0;
  const std::int64_t avail = volume != nullptr ? static_cast<std::int64_t>(volume->avail_bytes) : 0;
  std::int64_t freed = 0;
  for (Candidate& c : eligible) {
    GcPlanItem& item = c.item;
    if (!plan->triggered) {
      item.why += "; no trigger holds";
      continue;
    }
    const auto size = static_cast<std::int64_t>(item.entry.bytes);
    std::string because;
    if (!byte_bound) {
      because = "not in use, past keep_duration, matched";
    } else if (cap > 0 && total - freed > cap) {
      because = fmt::format("cache {} > {} {}", HumanBytes(static_cast<double>(total - freed)),
                            cap_name, HumanBytes(static_cast<double>(cap)));
    } else if (s.min_free_space > 0 && volume != nullptr && avail + freed < s.min_free_space) {
      because = fmt::format("available {} < min_free_space {}",
                            HumanBytes(static_cast<double>(avail + freed)),
                            HumanBytes(static_cast<double>(s.min_free_space)));
    }
    if (because.empty()) {
      item.why += "; kept: the byte settings are met";
      continue;
    }
    if (floor > 0 && total - freed - size < floor) {
      item.why += fmt::format("; kept: keep_bytes {} is reserved (the floor)",
                              HumanBytes(static_cast<double>(floor)));
      continue;
    }
    item.decision = GcDecision::kDelete;
    item.why += "; " + because;
    freed += size;
    plan->planned_bytes += item.entry.bytes;
    plan->planned_entries++;
  }
  plan->items.clear();
  for (auto& c : eligible) plan->items.push_back(std::move(c.item));
  for (auto& o : others) plan->items.push_back(std::move(o));
}

}  // namespace cachewarden
