#include "probes/buildkit_client.h"

#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <cerrno>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "probes/buildkit/proto/control.grpc.pb.h"

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

void SetDeadline(grpc::ClientContext* ctx, Duration timeout) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(timeout));
}

Status OpenChannel(const BuildkitAddress& address, Duration timeout,
                   std::shared_ptr<grpc::Channel>* out) {
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
    } else if (s.error_code() != grpc::StatusCode::UNIMPLEMENTED) {
      return FromGrpc(s, "Info", address);
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
