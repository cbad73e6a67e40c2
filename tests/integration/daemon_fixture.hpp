#pragma once
// DaemonFixture: runs the real inboxd binary in a temporary directory and
// offers the verbs integration tests need: write a configuration, start and
// stop the daemon, drop files, wait for outcomes. Every process it starts is
// stopped by pid when the fixture ends, and the directory is removed.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace inboxd::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class DaemonFixture {
 public:
  DaemonFixture();
  ~DaemonFixture();
  DaemonFixture(const DaemonFixture&) = delete;
  DaemonFixture& operator=(const DaemonFixture&) = delete;

  // Inbox keys written under one inbox "in" whose path is inbox(); `extra` is
  // YAML appended at the inbox's indentation, e.g. "settle: 0\nretries: 0".
  // The handler's env always holds RECORD_DIR=records(), plus `env`.
  void configure(const std::vector<std::string>& command, const std::string& extra = "",
                 const std::map<std::string, std::string>& env = {});
  // One inbox of configure_inboxes(): its name, folder and YAML keys at the
  // inbox's indentation (like `extra` above).
  struct InboxSpec {
    std::string name;
    fs::path path;
    std::string extra;
  };
  // Like configure(), with several inboxes that all run `command`.
  void configure_inboxes(const std::vector<std::string>& command,
                         const std::vector<InboxSpec>& inboxes,
                         const std::map<std::string, std::string>& env = {});
  void start();  // starts inboxd and waits until it is ready
  // From the next start() on, runs `launcher` with inboxd's command line
  // appended (e.g. unshare ... sh -c '...; exec "$0" "$@"'); the launcher
  // must exec inboxd, so that pid() stays the daemon's.
  void set_launcher(const std::vector<std::string>& launcher) { launcher_ = launcher; }
  // Adds or overrides a variable in inboxd's own environment from the next
  // start() on (the test's environment is passed on otherwise), e.g. a secret
  // that must not reach handlers.
  void set_daemon_env(const std::string& key, const std::string& value);
  // Runs inboxd with `args` to its end (e.g. --check, or a start that must
  // fail); returns its exit status and appends its output to *output.
  int run_inboxd(const std::vector<std::string>& args, std::string* output) const;
  void reload();     // SIGHUP
  int stop();        // SIGTERM; returns the exit status
  void kill_hard();  // SIGKILL, as a crash would
  // The daemon's exit status (128 + signal when killed) once it has ended by
  // itself; nullopt while it runs.
  std::optional<int> exited();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  void drop(const std::string& name, const std::string& content);  // write + close
  void block_handlers();  // record-handler waits while the block file exists
  void unblock_handlers();
  void write_config(const std::string& yaml);  // replaces the configuration file
  fs::path inbox() const { return root_ / "in"; }
  fs::path done() const { return inbox() / "done"; }
  fs::path failed() const { return inbox() / "failed"; }
  fs::path records() const { return root_ / "records"; }
  fs::path root() const { return root_; }
  fs::path config_file() const { return root_ / "inboxd.yaml"; }
  std::string log() const;  // what inboxd wrote to stderr so far

  // Regular files directly in a folder, by name (bytes).
  static std::vector<std::string> files_in(const fs::path& dir);
  // One line of records/runs, as count-handler appends it per run.
  struct HandlerRun {
    pid_t pid = 0;
    std::string job;
    std::string name;
  };
  // Every handler run recorded in records/runs, in order.
  std::vector<HandlerRun> handler_runs() const;
  // Polls `condition` every 20 ms until it holds or `timeout` passes.
  static bool wait_until(const std::function<bool()>& condition,
                         std::chrono::milliseconds timeout = 20s);
  static std::string read_file(const fs::path& file);
  static std::string fixture(const std::string& name);  // absolute path in tests/fixtures

 private:
  std::vector<std::string> daemon_environment() const;  // "KEY=value" entries

  fs::path root_;
  pid_t pid_ = -1;
  std::map<std::string, std::string> daemon_env_;
  std::vector<std::string> launcher_;
};

}  // namespace inboxd::testing
