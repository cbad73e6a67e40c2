#include "tests/unit/service/inboxd_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <vector>

#include "common/unique_fd.hpp"

extern char** environ;

namespace inboxd::service::testing {
namespace {

bool is_service_manager_variable(const std::string& entry) {
  for (const char* key : {"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=", "JOURNAL_STREAM=",
                          "INBOXD_CONFIG=", "STATE_DIRECTORY=", "RUNTIME_DIRECTORY="}) {
    if (entry.rfind(key, 0) == 0) return true;
  }
  return false;
}

}  // namespace

InboxdProcess::InboxdProcess() {
  std::filesystem::create_directories(path("in"));
  std::ofstream(path("inboxd.yaml")) << "state_dir: state\n"
                                        "socket: state/inboxd.sock\n"
                                        "log_level: debug\n"
                                        "shutdown_grace: 2s\n"
                                        "inboxes:\n"
                                        "  - name: in\n"
                                        "    path: in\n"
                                        "    command: [\"/bin/true\", \"{path}\"]\n";
}

InboxdProcess::~InboxdProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void InboxdProcess::start(const std::map<std::string, std::string>& env) {
  std::vector<std::string> entries;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!is_service_manager_variable(*e)) entries.emplace_back(*e);
  }
  for (const auto& [key, value] : env) entries.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& entry : entries) envp.push_back(entry.data());
  envp.push_back(nullptr);

  std::string binary = std::string(INBOXD_BIN_DIR) + "/inboxd";
  std::string config = path("inboxd.yaml").string();
  std::string log = log_file().string();
  std::vector<char*> argv = {binary.data(), const_cast<char*>("--config"), config.data(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  int rc = ::posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
}

bool InboxdProcess::wait_ready(std::chrono::milliseconds timeout) {
  bool exited = false;
  wait_until(
      [&] {
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
          pid_ = -1;
          exited = true;
        }
        return exited || log().find("inboxd ready") != std::string::npos;
      },
      timeout);
  return !exited && log().find("inboxd ready") != std::string::npos;
}

void InboxdProcess::signal(int signum) const {
  if (pid_ > 0) ::kill(pid_, signum);
}

int InboxdProcess::stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  if (!wait_until([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, timeout)) return -1;
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool InboxdProcess::admin_socket_accepts() const {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string socket = path("state/inboxd.sock").string();
  if (!fd.valid() || socket.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, socket.c_str(), socket.size() + 1);
  return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

void InboxdProcess::break_config() const {
  std::ofstream(path("inboxd.yaml"), std::ios::app) << "no_such_key: 1\n";
}

}  // namespace inboxd::service::testing
