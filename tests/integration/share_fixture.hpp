#pragma once
// SshfsShare: a real network share for integration tests. It starts its own
// sshd (on 127.0.0.1, or inside a network namespace of its own as a "second
// host" whose link can be cut), makes a backing folder and mounts it with
// sshfs as often as asked. Writing into backing() is what a writer on the
// file server does: the mounts never hear of it through inotify.
//
// Every process it starts (sshd, each sshfs and the ssh under it) is tracked
// by pid and stopped by pid. Every filesystem call the test side makes on a
// mount that might hang runs in a child process under a hard time limit
// (run()); a child that does not end is killed and reaped once its mount is
// gone. Cleanup (the destructor) unmounts with fusermount3 -u, else aborts the
// FUSE connection and detaches the mount, then stops the processes and
// deletes the namespace and its veth pair: it leaves no mount and no process
// behind even when a test fails half-way.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace inboxd::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class SshfsShare {
 public:
  enum class Host {
    kLoopback,   // sshd listens on 127.0.0.1
    kNamespace,  // sshd runs in its own network namespace behind a veth pair
  };

  // sshfs options that make every stat reach the server: no sshfs cache and no
  // kernel attribute or entry cache, so a settle check never sees a stale size.
  static constexpr const char* kFreshMetadata =
      "cache=no,attr_timeout=0,entry_timeout=0,negative_timeout=0";

  explicit SshfsShare(Host host = Host::kLoopback);
  ~SshfsShare();
  SshfsShare(const SshfsShare&) = delete;
  SshfsShare& operator=(const SshfsShare&) = delete;

  // Why a share cannot be made on this machine (not root, no /dev/fuse, a
  // missing program), or "" when it can. Tests skip loudly on a reason.
  static std::string missing_requirement(Host host);

  void start();  // keys, the namespace (kNamespace) and sshd; throws on failure
  // Mounts backing() at a new mountpoint and returns it, once it is mounted.
  fs::path mount(const std::string& options = kFreshMetadata);
  void partition();    // the host-side veth goes down (kNamespace only)
  void heal();         // and up again
  void unmount_all();  // also what the destructor does

  fs::path backing() const { return root_ / "backing"; }
  fs::path root() const { return root_; }
  std::string server() const { return address_ + ":" + std::to_string(port_); }
  std::string sshd_log() const;
  // "0x65735546" etc.: statfs(2)'s f_type of a path, read by `stat -f` in a
  // child with a time limit ("" when it did not answer).
  std::string filesystem_type(const fs::path& path);

  struct Run {
    std::optional<int> exit_code;  // nullopt: killed at the time limit
    std::string output;            // stdout and stderr
  };
  // Runs argv (looked up in PATH) in a child, killed at `limit`. A child that
  // does not die (stuck in a hung mount) is reaped later, after the unmount.
  Run run(const std::vector<std::string>& argv, std::chrono::milliseconds limit = 5s);

 private:
  struct Mount {
    fs::path point;
    pid_t sshfs = -1;
    fs::path ssh_pid_file;  // written by the ssh wrapper: the ssh under sshfs
    bool mounted = false;
  };
  pid_t spawn(const std::vector<std::string>& argv, const fs::path& output) const;
  void start_namespace();
  void start_sshd();
  void stop_sshd();
  void unmount(Mount& m);
  void stop_namespace();
  bool ensure_fusectl();
  void reap_stragglers(std::chrono::milliseconds limit);

  Host host_;
  fs::path root_;
  std::string address_ = "127.0.0.1";
  int port_ = 0;
  pid_t sshd_ = -1;
  std::vector<Mount> mounts_;
  std::vector<pid_t> stragglers_;  // timed-out children not reaped yet
  std::string netns_, veth_host_, veth_ns_;
  bool netns_made_ = false, veth_made_ = false, fusectl_mounted_ = false;
  bool run_netns_mounted_before_ = true;
  int runs_ = 0;
};

}  // namespace inboxd::testing
