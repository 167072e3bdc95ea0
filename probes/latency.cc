#include "probes/latency.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <optional>
#include <random>
#include <vector>

#include "base/enum_names.h"
#include "base/unique_fd.h"

namespace cachewarden {
namespace {

constexpr std::size_t kBlock = 4096;
constexpr const char* kDir = ".cachewarden";
constexpr const char* kFile = "latency.probe";
constexpr const char* kMetaFile = "meta.probe";
constexpr double kMaxWorkingSet = 64.0 * (1ULL << 30);

// The errno values named by the `errno` label of the latency probe's error counts; any other is
// "other".
constexpr EnumName<int> kErrnoClassNames[] = {
    {ENOSPC, "ENOSPC"},
    {EIO, "EIO"},
    {EROFS, "EROFS"},
    {EDQUOT, "EDQUOT"},
};

constexpr std::string_view kOtherErrno = "other";

std::string ErrnoClass(int err) {
  std::string_view name = NameIn<int>(kErrnoClassNames, err);
  return std::string(name.empty() ? kOtherErrno : name);
}

double Median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

class LatencyProbe : public Probe {
 public:
  explicit LatencyProbe(LatencyOptions o) : options_(o), rng_(std::random_device{}()) {
    blocks_ = std::max<std::uint64_t>(2, options_.working_set_bytes / kBlock);
    written_.assign(blocks_, false);
    for (auto& h : histograms_) h = HistogramValue(LatencyBuckets());
    void* p = nullptr;
    if (posix_memalign(&p, kBlock, kBlock) == 0) buffer_ = static_cast<char*>(p);
  }
  ~LatencyProbe() override {
    CloseFiles();
    std::free(buffer_);
  }
  std::string_view name() const override { return LatencyData::kProbe; }

  Status Collect(const ProbeContext& ctx, std::shared_ptr<const ProbeData>* out) override {
    if (buffer_ == nullptr) return Status::Error(StatusCode::kIo, "no aligned buffer");
    Status s = Open(ctx.cache_root);
    if (!s.ok()) {
      CloseFiles();
      return s;
    }
    run_eio_ = false;
    // A one-shot mode has no later run: the warm-up, then the measured samples, here and now.
    const int runs = ctx.one_shot && !warmed_up_ ? 1 + options_.oneshot_samples : 1;
    std::array<double, kOpCount> last;
    last.fill(-1);
    bool recorded = false;
    for (int i = 0; i < runs && !ctx.Cancelled(); ++i) {
      last = MeasureOnce();
      if (warmed_up_) {
        Record(ctx.Now(), last);
        recorded = true;
      }
      warmed_up_ = true;
    }
    auto data = std::make_shared<LatencyData>();
    data->mode = direct_fd_.valid() ? LatencyReadMode::kDirect : LatencyReadMode::kFadvise;
    data->warmup = !recorded;
    data->last_seconds = last;
    for (int op = 0; op < kOpCount; ++op) {
      data->histograms[op] = histograms_[op];
      data->median_seconds[op] = Median({recent_[op].begin(), recent_[op].end()});
      data->window[op].assign(window_[op].begin(), window_[op].end());
    }
    data->errors = errors_;
    data->eio = run_eio_;
    *out = std::move(data);
    // Nothing stays open between runs: an open file would keep `mount -o remount,ro` of the cache
    // from succeeding (EBUSY) and pin a removed cache's inode.
    CloseFiles();
    return Status::Ok();
  }

  void Retire(const ProbeContext& /*ctx*/) override {
    if (!dir_.empty()) {
      dir_fd_.Reset(open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (dir_fd_.valid()) {
        (void)unlinkat(dir_fd_.get(), kFile, 0);
        (void)unlinkat(dir_fd_.get(), kMetaFile, 0);
      }
    }
    CloseFiles();
    // Only if empty; rmdir does not follow a symlink there.
    if (!dir_.empty()) (void)rmdir(dir_.c_str());
    dir_.clear();
  }

 private:
  // One write, fdatasync, read and metadata round, timed: the seconds of each op (-1: not done).
  std::array<double, kOpCount> MeasureOnce() {
    std::array<double, kOpCount> last;
    last.fill(-1);
    // The read comes first, after the interval's idle time, as ioping's does: straight after the
    // write and fsync it would find the device path warm and report half the latency a build's
    // first read sees. It reads a block written by an earlier run.
    if (!written_list_.empty()) {
      const std::uint64_t rblock = written_list_[std::uniform_int_distribution<std::size_t>(
          0, written_list_.size() - 1)(rng_)];
      Time(kOpRead, &last, [&] { return ReadBlock(rblock); });
    }
    const std::uint64_t wblock = std::uniform_int_distribution<std::uint64_t>(0, blocks_ - 1)(rng_);
    std::fill(buffer_, buffer_ + kBlock, static_cast<char>('a' + wblock % 26));
    Time(kOpWrite, &last, [&] {
      return pwrite(fd_.get(), buffer_, kBlock, static_cast<off_t>(wblock * kBlock)) ==
             static_cast<ssize_t>(kBlock);
    });
    const bool synced = Time(kOpFsync, &last, [&] { return fdatasync(fd_.get()) == 0; });
    if (synced) {
      if (!written_[wblock]) written_list_.push_back(wblock);
      written_[wblock] = true;
    }
    // Left over if a run stopped between create and unlink: not timed.
    (void)unlinkat(dir_fd_.get(), kMetaFile, 0);
    Time(kOpMetadata, &last, [&] {
      UniqueFd f(openat(dir_fd_.get(), kMetaFile,
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!f.valid()) return false;
      f.Reset();
      return unlinkat(dir_fd_.get(), kMetaFile, 0) == 0;
    });

    return last;
  }

  // Adds one measured round to the histograms, the recent runs and the window.
  void Record(SystemTime now, const std::array<double, kOpCount>& last) {
    for (int op = 0; op < kOpCount; ++op) {
      auto& w = window_[op];
      while (!w.empty() && (now - w.front().at > LatencyData::kWindowKept ||
                            w.size() >= LatencyData::kMaxWindowSamples)) {
        w.pop_front();
      }
      if (last[op] < 0) continue;
      histograms_[op].Observe(last[op]);
      recent_[op].push_back(last[op]);
      if (recent_[op].size() > options_.recent) recent_[op].pop_front();
      w.push_back({now, last[op]});
    }
  }

  template <typename F>
  bool Time(int op, std::array<double, kOpCount>* last, const F& f) {
    const auto start = std::chrono::steady_clock::now();
    errno = 0;
    const bool ok = f();
    const auto end = std::chrono::steady_clock::now();
    if (!ok) {
      const int err = errno;
      ++errors_[ErrnoClass(err)];
      run_eio_ = run_eio_ || err == EIO;
      return false;
    }
    (*last)[op] = ToSeconds(end - start);
    return true;
  }

  // O_DIRECT where the filesystem allows it; else drop the cached page first.
  bool ReadBlock(std::uint64_t block) {
    const off_t off = static_cast<off_t>(block * kBlock);
    if (direct_fd_.valid()) {
      ssize_t n = pread(direct_fd_.get(), buffer_, kBlock, off);
      if (n == static_cast<ssize_t>(kBlock)) return true;
      if (n >= 0 || errno != EINVAL) return false;
      direct_fd_.Reset();  // accepted at open, refused at read: fall back
    }
    (void)posix_fadvise(fd_.get(), off, kBlock, POSIX_FADV_DONTNEED);
    return pread(fd_.get(), buffer_, kBlock, off) == static_cast<ssize_t>(kBlock);
  }

  // What the root is: a root removed and made again, or a filesystem mounted over it, is another.
  struct RootId {
    dev_t dev = 0;
    ino_t ino = 0;
    std::uint64_t mnt_id = 0;  // 0 where statx cannot say
    bool operator==(const RootId&) const = default;
  };

  // Opens, for one run, the root (never a symlink), <root>/.cachewarden (never through a symlink)
  // and the probe file in it; every file operation of the run is relative to that directory's fd.
  // The probe file is made afresh (and what was written forgotten) at the first run and whenever
  // the root's identity changed or the file went; else reopened as it was.
  Status Open(const std::string& root) {
    CloseFiles();
    dir_ = root + "/" + kDir;
    struct statx sx {};
    if (statx(AT_FDCWD, root.c_str(), AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_INO | STATX_MNT_ID,
              &sx) != 0) {
      const int err = errno;
      return PosixError(err == ENOENT ? "cache root is gone:" : "statx", root, err);
    }
    if (S_ISLNK(sx.stx_mode)) {
      return Status::Error(StatusCode::kSymlink,
                           "cache root is now a symlink; the latency probe refuses to follow it",
                           ELOOP, root);
    }
    const RootId id{makedev(sx.stx_dev_major, sx.stx_dev_minor), static_cast<ino_t>(sx.stx_ino),
                    (sx.stx_mask & STATX_MNT_ID) != 0 ? sx.stx_mnt_id : 0};
    UniqueFd root_fd(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root_fd.valid()) return PosixError("open", root, errno);
    struct stat st {};
    if (fstat(root_fd.get(), &st) != 0 || st.st_dev != id.dev || st.st_ino != id.ino) {
      return Status::Error(StatusCode::kIo, "cache root changed while opening it", ESTALE, root);
    }
    if (mkdirat(root_fd.get(), kDir, 0700) != 0 && errno != EEXIST) {
      return PosixError("mkdir", dir_, errno);
    }
    dir_fd_.Reset(openat(root_fd.get(), kDir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir_fd_.valid()) {
      const int err = errno;
      struct stat lst {};
      if (fstatat(root_fd.get(), kDir, &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode)) {
        return Status::Error(StatusCode::kSymlink,
                             "is a symlink; the latency probe refuses to follow it", err, dir_);
      }
      return PosixError("open", dir_, err);
    }
    const std::string file = dir_ + "/" + kFile;
    const bool fresh = !root_id_.has_value() || *root_id_ != id;
    if (!fresh) {
      fd_.Reset(openat(dir_fd_.get(), kFile, O_RDWR | O_NOFOLLOW | O_CLOEXEC));
      if (!fd_.valid() && errno != ENOENT) return PosixError("open", file, errno);
    }
    if (!fd_.valid()) {
      // A fresh sparse file: only blocks this process wrote into it are read.
      fd_.Reset(
          openat(dir_fd_.get(), kFile, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!fd_.valid()) return PosixError("open", file, errno);
      if (ftruncate(fd_.get(), static_cast<off_t>(blocks_ * kBlock)) != 0) {
        return PosixError("ftruncate", file, errno);
      }
      std::fill(written_.begin(), written_.end(), false);
      written_list_.clear();
    }
    root_id_ = id;
    if (options_.direct) {
      direct_fd_.Reset(openat(dir_fd_.get(), kFile, O_RDONLY | O_DIRECT | O_NOFOLLOW | O_CLOEXEC));
    }
    return Status::Ok();
  }

  void CloseFiles() {
    direct_fd_.Reset();
    fd_.Reset();
    dir_fd_.Reset();
  }

  LatencyOptions options_;
  std::mt19937_64 rng_;
  std::uint64_t blocks_;
  std::vector<bool> written_;
  std::vector<std::uint64_t> written_list_;
  char* buffer_ = nullptr;
  std::string dir_;                // <root>/.cachewarden, for messages and rmdir
  std::optional<RootId> root_id_;  // the root the probe file was made in
  UniqueFd dir_fd_;
  UniqueFd fd_;
  UniqueFd direct_fd_;
  bool warmed_up_ = false;
  std::array<HistogramValue, kOpCount> histograms_;
  std::array<std::deque<double>, kOpCount> recent_;
  std::array<std::deque<LatencyData::Sample>, kOpCount> window_;
  bool run_eio_ = false;
  std::map<std::string, std::uint64_t> errors_;
};

}  // namespace

const char* LatencyOpName(int op) {
  static constexpr const char* kNames[] = {"read", "write", "fsync", "metadata"};
  return op >= 0 && op < kOpCount ? kNames[op] : "?";
}

std::vector<double> LatencyBuckets() {
  return {50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3,
          50e-3, 100e-3, 250e-3, 500e-3, 1,    2.5,    5,    10};
}

std::optional<double> WindowQuantile(const LatencyData& data, int op, SystemTime since, double q) {
  std::vector<double> v;
  for (const auto& sample : data.window[op]) {
    if (sample.at > since) v.push_back(sample.seconds);
  }
  if (v.empty()) return std::nullopt;
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  const std::size_t i = std::min(v.size() - 1, rank == 0 ? 0 : rank - 1);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

nlohmann::json LatencyData::ToJson() const {
  nlohmann::json ops = nlohmann::json::object();
  for (int op = 0; op < kOpCount; ++op) {
    nlohmann::json o = {{"count", histograms[op].Count()}};
    if (last_seconds[op] >= 0) o["last_seconds"] = last_seconds[op];
    if (median_seconds[op] >= 0) o["median_seconds"] = median_seconds[op];
    ops[LatencyOpName(op)] = std::move(o);
  }
  return {
      {"mode", ToString(mode)}, {"warmup", warmup}, {"ops", ops}, {"errors", errors}, {"eio", eio}};
}

void LatencyData::ExportMetrics(MetricWriter& out) const {
  for (int op = 0; op < kOpCount; ++op) {
    const MetricLabels labels = {{"op", LatencyOpName(op)}};
    out.Histogram("cachewarden_io_latency_seconds",
                  "Latency of the probe's own I/O on the cache disk, by operation.", histograms[op],
                  labels);
    if (last_seconds[op] >= 0) {
      out.Gauge("cachewarden_io_latency_last_seconds",
                "Latency of the latest probe I/O, by operation.", last_seconds[op], labels);
    }
  }
  for (const auto& [m, name] : kLatencyReadModeNames) {
    out.Gauge("cachewarden_io_probe_mode",
              "1 for the read mode in use: direct (O_DIRECT) or fadvise (page cache dropped).",
              mode == m ? 1 : 0, {{"mode", std::string(name)}});
  }
  auto export_errors = [&](std::string_view cls_name) {
    const std::string cls(cls_name);
    auto it = errors.find(cls);
    out.Counter("cachewarden_io_probe_errors_total", "Failed probe I/O operations by errno class.",
                it == errors.end() ? 0 : static_cast<double>(it->second), {{"errno", cls}});
  };
  for (const auto& [err, cls] : kErrnoClassNames) export_errors(cls);
  export_errors(kOtherErrno);
}

std::unique_ptr<Probe> NewLatencyProbe(const LatencyOptions& options) {
  return std::make_unique<LatencyProbe>(options);
}

LatencyOptions ReadLatencyOptions(ConfigReader& section) {
  LatencyOptions o;
  SizeSpec ws = section.Size("working_set", SizeSpec::Bytes(o.working_set_bytes), false);
  // The probe keeps one bit per 4 KiB block of it.
  if (ws.value < 2 * kBlock || ws.value > kMaxWorkingSet)
    section.Fail("working_set", "expected a size from 8KiB to 64GiB");
  o.working_set_bytes = static_cast<std::uint64_t>(ws.value);
  o.recent = static_cast<std::size_t>(section.Int("median_runs", 60, 1, 10'000));
  o.direct = section.Bool("direct_io", true);
  o.oneshot_samples = static_cast<int>(section.Int("oneshot_samples", 5, 1, 100));
  return o;
}

}  // namespace cachewarden
