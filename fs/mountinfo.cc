#include "fs/mountinfo.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "base/text.h"
#include "fs/read_file.h"

namespace cachewarden {
namespace {

// Splits on single spaces; mountinfo never has empty fields (spaces in paths are escaped), so an
// empty field marks a malformed line.
std::vector<std::string_view> SplitFields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= line.size()) {
    std::size_t end = line.find(' ', start);
    if (end == std::string_view::npos) end = line.size();
    out.push_back(line.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool ParseLine(std::string_view line, MountEntry* e) {
  auto f = SplitFields(line);
  // id parent maj:min root point options [optional...] - fstype source super
  if (f.size() < 10) return false;
  std::size_t sep = 6;
  while (sep < f.size() && f[sep] != "-") ++sep;
  // Exactly three fields follow the separator: fstype, source, super options.
  if (sep + 4 != f.size()) return false;
  for (auto field : f) {
    if (field.empty()) return false;
  }
  auto colon = f[2].find(':');
  if (colon == std::string_view::npos) return false;
  if (!ParseNumber(f[0], &e->id) || !ParseNumber(f[1], &e->parent) ||
      !ParseNumber(f[2].substr(0, colon), &e->major) ||
      !ParseNumber(f[2].substr(colon + 1), &e->minor)) {
    return false;
  }
  // Mount points are absolute; roots usually are too, but nsfs roots read "net:[4026531992]", so
  // the root is not checked.
  if (f[4][0] != '/') return false;
  e->root = UnescapeMountField(f[3]);
  e->mount_point = UnescapeMountField(f[4]);
  e->options = std::string(f[5]);
  e->optional_fields.clear();
  for (std::size_t i = 6; i < sep; ++i) e->optional_fields.emplace_back(f[i]);
  e->fstype = UnescapeMountField(f[sep + 1]);
  e->source = UnescapeMountField(f[sep + 2]);
  e->super_options = std::string(f[sep + 3]);
  return true;
}

bool HasOption(std::string_view options, std::string_view want) {
  std::size_t start = 0;
  while (start <= options.size()) {
    std::size_t end = options.find(',', start);
    if (end == std::string_view::npos) end = options.size();
    if (options.substr(start, end - start) == want) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

bool MountEntry::ReadOnly() const {
  return HasOption(options, "ro") || HasOption(super_options, "ro");
}

std::string MountEntry::Device() const { return fmt::format("{}:{}", major, minor); }

std::string UnescapeMountField(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      auto oct = field.substr(i + 1, 3);
      bool ok = oct.size() == 3;
      for (char c : oct) ok = ok && c >= '0' && c <= '7';
      if (ok) {
        out += static_cast<char>(((oct[0] - '0') << 6) | ((oct[1] - '0') << 3) | (oct[2] - '0'));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

MountTable ParseMountInfo(std::string_view text) {
  MountTable t;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    MountEntry e;
    if (ParseLine(line, &e)) {
      t.entries.push_back(std::move(e));
    } else {
      ++t.malformed_lines;
    }
  }
  return t;
}

const MountEntry* MountTable::FindById(int id) const {
  for (const auto& e : entries) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

const MountEntry* MountTable::RootMount() const {
  // The bottom root mount: at "/", with a parent outside the table (or itself). Failing that, the
  // first mount at "/".
  const MountEntry* root = nullptr;
  for (const auto& e : entries) {
    if (e.mount_point != "/") continue;
    const MountEntry* parent = FindById(e.parent);
    if (parent == nullptr || parent == &e) {
      root = &e;
      break;
    }
  }
  if (root == nullptr) {
    for (const auto& e : entries) {
      if (e.mount_point == "/") {
        root = &e;
        break;
      }
    }
  }
  if (root == nullptr) return nullptr;
  // Follow mounts stacked on "/". At most one step per entry: in a table whose parent links form a
  // cycle (only a malformed or crafted file has one) the walk would otherwise never end.
  std::size_t steps = 0;
  for (bool moved = true; moved && steps < entries.size(); ++steps) {
    moved = false;
    for (const auto& e : entries) {
      if (&e != root && e.parent == root->id && e.mount_point == "/") {
        root = &e;
        moved = true;
      }
    }
  }
  return root;
}

const MountEntry* MountTable::Holder(std::string_view path) const {
  const MountEntry* cur = RootMount();
  if (cur == nullptr) return nullptr;
  for (int depth = 0; depth < 4096; ++depth) {
    const MountEntry* best = nullptr;
    for (const auto& e : entries) {
      if (&e == cur || e.parent != cur->id || !PathIsUnder(path, e.mount_point)) {
        continue;
      }
      // Children of one parent that both hold `path` are nested; the one mounted later (later in
      // the file) is on top: at the same point it is stacked, at an enclosing point it hides the
      // earlier, deeper one.
      best = &e;
    }
    if (best == nullptr) return cur;
    cur = best;
  }
  return cur;
}

Status ReadMountInfo(const std::string& file, MountTable* out, std::size_t max_bytes) {
  std::string text;
  Status s = ReadSmallFile(file, &text, max_bytes);
  if (!s.ok()) return s;
  *out = ParseMountInfo(text);
  return Status::Ok();
}

}  // namespace cachewarden
