#include "tests/integration/daemon_fixture.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace inboxd::testing {

DaemonFixture::DaemonFixture() {
  std::string tmpl = (fs::temp_directory_path() / "inboxd-it-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  root_ = tmpl;
  fs::create_directories(inbox());
  fs::create_directories(records());
}

DaemonFixture::~DaemonFixture() {
  if (pid_ > 0) kill_hard();
  std::error_code ec;
  fs::remove_all(root_, ec);
}

std::string DaemonFixture::fixture(const std::string& name) {
  return std::string(INBOXD_SOURCE_DIR) + "/tests/fixtures/" + name;
}

namespace {

void write_inbox(std::ostream& yaml, const std::string& name, const std::string& path,
                 const std::vector<std::string>& command, const fs::path& records,
                 const std::string& extra, const std::map<std::string, std::string>& env) {
  yaml << "  - name: " << name << "\n"
       << "    path: " << path << "\n"
       << "    command: [";
  for (std::size_t i = 0; i < command.size(); ++i) {
    yaml << (i ? ", " : "") << '"' << command[i] << '"';
  }
  yaml << "]\n"
       << "    env: {RECORD_DIR: \"" << records.string() << "\"";
  for (const auto& [key, value] : env) yaml << ", " << key << ": \"" << value << '"';
  yaml << "}\n";
  std::istringstream lines(extra);
  for (std::string line; std::getline(lines, line);) yaml << "    " << line << "\n";
}

const char* const kDaemonKeys =
    "state_dir: state\n"
    "socket: state/inboxd.sock\n"
    "log_level: debug\n"
    "shutdown_grace: 5s\n"
    "inboxes:\n";

}  // namespace

void DaemonFixture::configure(const std::vector<std::string>& command, const std::string& extra,
                              const std::map<std::string, std::string>& env) {
  std::ostringstream yaml;
  yaml << kDaemonKeys;
  write_inbox(yaml, "in", "in", command, records(), extra, env);
  std::ofstream(config_file()) << yaml.str();
}

void DaemonFixture::configure_inboxes(const std::vector<std::string>& command,
                                      const std::vector<InboxSpec>& inboxes,
                                      const std::map<std::string, std::string>& env) {
  std::ostringstream yaml;
  yaml << kDaemonKeys;
  for (const auto& inbox : inboxes) {
    write_inbox(yaml, inbox.name, "\"" + inbox.path.string() + "\"", command, records(),
                inbox.extra, env);
  }
  std::ofstream(config_file()) << yaml.str();
}

void DaemonFixture::start() {
  auto log_file = root_ / "inboxd.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  std::string binary = std::string(INBOXD_BIN_DIR) + "/inboxd";
  std::string config = config_file().string();
  std::vector<std::string> words = launcher_;
  for (const auto& word : {binary, std::string("--config"), config}) words.push_back(word);
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  // Only a ready line written by this process counts: the log is appended
  // across restarts.
  auto logged_before = log().size();
  std::vector<std::string> env = daemon_environment();
  std::vector<char*> envp;
  for (auto& entry : env) envp.push_back(entry.data());
  envp.push_back(nullptr);
  int rc = launcher_.empty()
               ? posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), envp.data())
               : posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start inboxd");
  bool ready = wait_until([this, logged_before] {
    if (log().find("inboxd ready", logged_before) != std::string::npos) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    return false;
  });
  if (!ready || pid_ < 0) throw std::runtime_error("inboxd did not become ready:\n" + log());
}

void DaemonFixture::set_daemon_env(const std::string& key, const std::string& value) {
  daemon_env_[key] = value;
}

std::vector<std::string> DaemonFixture::daemon_environment() const {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string text(*entry);
    if (daemon_env_.count(text.substr(0, text.find('='))) == 0) env.push_back(std::move(text));
  }
  for (const auto& [key, value] : daemon_env_) env.push_back(key + "=" + value);
  return env;
}

int DaemonFixture::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  bool exited = wait_until([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, 30s);
  if (!exited) {
    kill_hard();
    return -1;
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::optional<int> DaemonFixture::exited() {
  int status = 0;
  if (pid_ <= 0 || ::waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void DaemonFixture::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int DaemonFixture::run_inboxd(const std::vector<std::string>& args, std::string* output) const {
  auto out_file = root_ / "run.out";
  std::string command = std::string(INBOXD_BIN_DIR) + "/inboxd";
  for (const auto& arg : args) command += " '" + arg + "'";
  command += " > '" + out_file.string() + "' 2>&1";
  int status = std::system(command.c_str());
  *output += read_file(out_file);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void DaemonFixture::reload() {
  if (pid_ > 0) ::kill(pid_, SIGHUP);
}

void DaemonFixture::block_handlers() { std::ofstream(records() / "block") << ""; }

void DaemonFixture::unblock_handlers() { fs::remove(records() / "block"); }

void DaemonFixture::write_config(const std::string& yaml) { std::ofstream(config_file()) << yaml; }

void DaemonFixture::drop(const std::string& name, const std::string& content) {
  std::ofstream(inbox() / name, std::ios::binary) << content;
}

std::string DaemonFixture::log() const { return read_file(root_ / "inboxd.log"); }

std::vector<std::string> DaemonFixture::files_in(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<DaemonFixture::HandlerRun> DaemonFixture::handler_runs() const {
  std::vector<HandlerRun> runs;
  std::istringstream lines(read_file(records() / "runs"));
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    HandlerRun run;
    fields >> run.pid >> run.job >> run.name;
    runs.push_back(run);
  }
  return runs;
}

bool DaemonFixture::wait_until(const std::function<bool()>& condition,
                               std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

std::string DaemonFixture::read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace inboxd::testing
