#include "probes/buildkit_client.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "fs/read_file.h"
#include "probes/buildkit/proto/control.grpc.pb.h"
#include "probes/buildkit/proto/health.grpc.pb.h"

namespace cachewarden {
namespace {

namespace pb = ::moby::buildkit::v1;

// A DiskUsage answer is about 300 bytes a record; gRPC's 4 MiB default would cut off a BuildKit
// with some ten thousand records.
constexpr int kMaxMessageBytes = 256 << 20;

grpc::ChannelArguments ChannelArgs() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  // A failed call is reported, not retried: the probe's next run is the retry.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  return args;
}

Status FromGrpc(const grpc::Status& s, std::string_view call, const BuildkitAddress& address) {
  const std::string what = std::string(call) + ": " + s.error_message();
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return Status::Error(StatusCode::kTimeout, "BuildKit did not answer " + what + " in time", 0,
                         address.text);
  }
  return Status::Error(
      StatusCode::kIo,
      "BuildKit " + what + " (gRPC code " + std::to_string(static_cast<int>(s.error_code())) + ")",
      0, address.text);
}

SystemTime FromTimestamp(const google::protobuf::Timestamp& t) {
  return SystemTime(std::chrono::duration_cast<SystemTime::duration>(
      std::chrono::seconds(t.seconds()) + std::chrono::nanoseconds(t.nanos())));
}

BuildkitVersion FromVersion(const pb::types::BuildkitVersion& v) {
  return {v.package(), v.version(), v.revision()};
}

BuildkitRecord FromRecord(const pb::UsageRecord& r) {
  BuildkitRecord rec;
  rec.id = r.id();
  rec.type = r.recordtype();
  rec.size = r.size();
  rec.in_use = r.inuse();
  rec.shared = r.shared();
  rec.mutable_ = r.mutable_();
  if (r.has_lastusedat()) rec.last_used = FromTimestamp(r.lastusedat());
  if (r.has_createdat()) rec.created = FromTimestamp(r.createdat());
  return rec;
}

std::optional<SystemTime> FromEpochSeconds(std::int64_t seconds) {
  if (seconds <= 0) return std::nullopt;  // the fork's "none"
  return SystemTime(std::chrono::seconds(seconds));
}

BuildkitGcAnalytics FromGcAnalytics(const pb::types::GCAnalytics& g) {
  BuildkitGcAnalytics a;
  a.recent_runs = g.numruns();
  a.recent_failures = g.numfailures();
  a.avg_duration = std::chrono::milliseconds(g.avgdurationms());
  a.all_time_runs = g.alltimeruns();
  a.all_time_max_duration = std::chrono::milliseconds(g.alltimemaxdurationms());
  a.current_start = FromEpochSeconds(g.currentstarttimesecepoch());
  a.current_size_before = g.currentsizebefore();
  a.last_start = FromEpochSeconds(g.laststarttimesecepoch());
  a.last_end = FromEpochSeconds(g.lastendtimesecepoch());
  a.last_size_before = g.lastsizebefore();
  a.last_size_cleared = g.lastsizecleared();
  a.last_records_cleared = g.lastnumrecordscleared();
  a.last_success = g.lastsuccess();
  return a;
}

BuildkitHealth FromServingStatus(grpc::health::v1::HealthCheckResponse::ServingStatus s) {
  using R = grpc::health::v1::HealthCheckResponse;
  switch (s) {
    case R::SERVING:
      return BuildkitHealth::kServing;
    case R::NOT_SERVING:
      return BuildkitHealth::kNotServing;
    case R::SERVICE_UNKNOWN:
      return BuildkitHealth::kServiceUnknown;
    default:
      return BuildkitHealth::kUnknown;
  }
}

void SetDeadline(grpc::ClientContext* ctx, Duration timeout) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(timeout));
}

// A PEM file of `probes.buildkit.tls`; certificates and keys are a few KiB.
constexpr std::size_t kMaxPemBytes = 1 << 20;

Status ReadPem(const BuildkitTls& tls, const std::string& file, std::string_view key,
               std::string* out) {
  Status s = tls.root.empty() ? ReadSmallFile(file, out, kMaxPemBytes)
                              : ReadSmallFileInRoot(tls.root, file, out, kMaxPemBytes);
  if (!s.ok()) {
    return Status::Error(s.code(), fmt::format("cannot read tls.{}: {}", key, s.message()),
                         s.error_number(), file);
  }
  if (out->find("-----BEGIN ") == std::string::npos) {
    return Status::Error(StatusCode::kParse, fmt::format("tls.{} {} holds no PEM block", key, file),
                         0, file);
  }
  return Status::Ok();
}

// tcp://: mTLS with the configured files, or plaintext h2c when no `tls` is configured. gRPC
// connects lazily, so a refused port or a failed handshake shows as the first call's UNAVAILABLE
// (with gRPC's reason: "Ssl handshake failed", "CERTIFICATE_VERIFY_FAILED", ...).
Status OpenTcpChannel(const BuildkitAddress& address, std::shared_ptr<grpc::Channel>* out) {
  grpc::ChannelArguments args = ChannelArgs();
  if (!address.tls) {
    *out = grpc::CreateCustomChannel(address.path, grpc::InsecureChannelCredentials(), args);
    return Status::Ok();
  }
  const BuildkitTls& tls = *address.tls;
  grpc::SslCredentialsOptions ssl;
  if (Status s = ReadPem(tls, tls.ca, "ca", &ssl.pem_root_certs); !s.ok()) return s;
  if (!tls.cert.empty()) {
    if (Status s = ReadPem(tls, tls.cert, "cert", &ssl.pem_cert_chain); !s.ok()) return s;
    if (Status s = ReadPem(tls, tls.key, "key", &ssl.pem_private_key); !s.ok()) return s;
  }
  if (!tls.server_name.empty()) args.SetSslTargetNameOverride(tls.server_name);
  *out = grpc::CreateCustomChannel(address.path, grpc::SslCredentials(ssl), args);
  return Status::Ok();
}

Status OpenChannel(const BuildkitAddress& address, Duration timeout,
                   std::shared_ptr<grpc::Channel>* out) {
  if (address.kind == BuildkitAddress::Kind::kTcp) return OpenTcpChannel(address, out);
  struct stat st {};
  if (stat(address.path.c_str(), &st) != 0) return PosixError("stat", address.path, errno);
  if (!S_ISSOCK(st.st_mode)) {
    return Status::Error(StatusCode::kIo, "not a socket", 0, address.path);
  }
  if (address.kind == BuildkitAddress::Kind::kUnix) {
    *out = grpc::CreateCustomChannel("unix://" + address.path, grpc::InsecureChannelCredentials(),
                                     ChannelArgs());
    return Status::Ok();
  }
  UniqueFd fd;
  Status s = UpgradeDockerGrpc(address.path, std::chrono::steady_clock::now() + timeout, &fd);
  if (!s.ok()) return s;
  // gRPC owns (and closes) the fd it is given; UniqueFd closes its own.
  const int given = fcntl(fd.get(), F_DUPFD_CLOEXEC, 0);
  if (given < 0) return PosixError("dup", address.path, errno);
  *out = grpc::CreateCustomInsecureChannelFromFd("docker", given, ChannelArgs());
  return Status::Ok();
}

bool Cancelled(const std::atomic<bool>* cancel) { return cancel != nullptr && cancel->load(); }

Status CancelledStatus(const BuildkitAddress& address) {
  return Status::Error(StatusCode::kCancelled, "stopped between BuildKit calls", 0, address.text);
}

}  // namespace

Status QueryBuildkit(const BuildkitAddress& address, Duration call_timeout,
                     const std::atomic<bool>* cancel, BuildkitAnswer* out) {
  std::shared_ptr<grpc::Channel> channel;
  if (Status s = OpenChannel(address, call_timeout, &channel); !s.ok()) return s;
  auto stub = pb::Control::NewStub(channel);
  BuildkitAnswer answer;

  if (Cancelled(cancel)) return CancelledStatus(address);
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, call_timeout);
    pb::DiskUsageRequest req;
    pb::DiskUsageResponse resp;
    if (grpc::Status s = stub->DiskUsage(&ctx, req, &resp); !s.ok()) {
      return FromGrpc(s, "DiskUsage", address);
    }
    answer.records.reserve(static_cast<std::size_t>(resp.record_size()));
    for (const auto& r : resp.record()) answer.records.push_back(FromRecord(r));
  }

  if (Cancelled(cancel)) return CancelledStatus(address);
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, call_timeout);
    pb::ListWorkersRequest req;
    pb::ListWorkersResponse resp;
    if (grpc::Status s = stub->ListWorkers(&ctx, req, &resp); !s.ok()) {
      return FromGrpc(s, "ListWorkers", address);
    }
    for (const auto& w : resp.record()) {
      BuildkitWorker worker;
      worker.id = w.id();
      worker.labels.insert(w.labels().begin(), w.labels().end());
      for (const auto& p : w.platforms()) {
        std::string name = p.os() + "/" + p.architecture();
        if (!p.variant().empty()) name += "/" + p.variant();
        worker.platforms.push_back(std::move(name));
      }
      for (const auto& g : w.gcpolicy()) {
        BuildkitGcPolicy policy;
        policy.all = g.all();
        policy.keep_duration = Duration(g.keepduration());
        policy.keep_bytes = g.keepbytes();
        policy.max_used_space = g.maxusedspace();
        policy.min_free_space = g.minfreespace();
        policy.filters.assign(g.filters().begin(), g.filters().end());
        worker.gc_policies.push_back(std::move(policy));
      }
      if (w.has_buildkitversion()) worker.version = FromVersion(w.buildkitversion());
      if (w.parallelismmax() > 0 || w.parallelismcurrent() > 0 || w.parallelismwaiting() > 0) {
        worker.parallelism =
            BuildkitParallelism{w.parallelismcurrent(), w.parallelismmax(), w.parallelismwaiting()};
      }
      if (w.has_gcanalytics()) worker.gc_analytics = FromGcAnalytics(w.gcanalytics());
      answer.workers.push_back(std::move(worker));
    }
  }

  if (Cancelled(cancel)) return CancelledStatus(address);
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, call_timeout);
    pb::InfoRequest req;
    pb::InfoResponse resp;
    grpc::Status s = stub->Info(&ctx, req, &resp);
    if (s.ok()) {
      answer.info_served = true;
      answer.version = FromVersion(resp.buildkitversion());
      const bool fork = std::any_of(
          answer.workers.begin(), answer.workers.end(),
          [](const auto& w) { return w.parallelism.has_value() || w.gc_analytics.has_value(); });
      if (fork || resp.numsessions() > 0 || resp.secondsidle() > 0) {
        answer.sessions = BuildkitSessions{static_cast<std::int64_t>(resp.numsessions()),
                                           static_cast<std::int64_t>(resp.secondsidle())};
      }
    } else if (s.error_code() != grpc::StatusCode::UNIMPLEMENTED) {
      return FromGrpc(s, "Info", address);
    }
  }

  if (Cancelled(cancel)) return CancelledStatus(address);
  {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, call_timeout);
    auto health = grpc::health::v1::Health::NewStub(channel);
    grpc::health::v1::HealthCheckRequest req;  // "": the server as a whole
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = health->Check(&ctx, req, &resp);
    if (s.ok()) {
      answer.health_served = true;
      answer.health = FromServingStatus(resp.status());
    } else if (s.error_code() != grpc::StatusCode::UNIMPLEMENTED) {
      return FromGrpc(s, "Health/Check", address);
    }
  }
  if (answer.version.empty()) {
    for (const auto& w : answer.workers) {
      if (!w.version.empty()) {
        answer.version = w.version;
        break;
      }
    }
  }
  *out = std::move(answer);
  return Status::Ok();
}

Status PruneBuildkit(const BuildkitAddress& address, const BuildkitPruneRequest& request,
                     Duration connect_timeout, Duration timeout, const std::atomic<bool>* cancel,
                     std::vector<BuildkitRecord>* freed) {
  if (Cancelled(cancel)) return CancelledStatus(address);
  std::shared_ptr<grpc::Channel> channel;
  if (Status s = OpenChannel(address, connect_timeout, &channel); !s.ok()) return s;
  auto stub = pb::Control::NewStub(channel);
  pb::PruneRequest req;
  for (const auto& f : request.filters) req.add_filter(f);
  req.set_all(request.all);
  req.set_keepduration(
      std::chrono::duration_cast<std::chrono::nanoseconds>(request.keep_duration).count());
  req.set_keepbytes(request.keep_bytes);
  req.set_maxusedspace(request.max_used_space);
  req.set_minfreespace(request.min_free_space);

  grpc::ClientContext ctx;
  SetDeadline(&ctx, timeout);
  // The stream's Read blocks until BuildKit sends or the call ends: only cancelling the context
  // wakes it, so a thread of its own watches the flag for the call's whole length.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  bool cancelled = false;
  std::thread watcher([&] {
    std::unique_lock lock(mu);
    while (!done) {
      if (Cancelled(cancel)) {
        cancelled = true;
        ctx.TryCancel();
        return;
      }
      cv.wait_for(lock, kPruneCancelCheck);
    }
  });
  auto reader = stub->Prune(&ctx, req);
  pb::UsageRecord r;
  while (reader->Read(&r)) freed->push_back(FromRecord(r));
  const grpc::Status s = reader->Finish();
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  watcher.join();
  if (cancelled) {
    return Status::Error(StatusCode::kCancelled, "Prune cancelled", 0, address.text);
  }
  if (!s.ok()) return FromGrpc(s, "Prune", address);
  return Status::Ok();
}

}  // namespace cachewarden
