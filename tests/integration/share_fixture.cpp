#include "tests/integration/share_fixture.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace inboxd::testing {

namespace {

using Clock = std::chrono::steady_clock;

std::string read_all(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool poll_until(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

// Waits for our child to end; true once reaped.
bool reap(pid_t pid, std::chrono::milliseconds limit, int* status = nullptr) {
  int ignored = 0;
  int* where = status != nullptr ? status : &ignored;
  return poll_until(
      [&] {
        pid_t rc = ::waitpid(pid, where, WNOHANG);
        return rc == pid || (rc < 0 && errno == ECHILD);
      },
      limit);
}

// A process that is not our child: gone once it no longer exists or is a zombie.
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  auto stat = read_all("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close == std::string::npos || (close + 2 < stat.size() && stat[close + 2] == 'Z');
}

std::string cmdline_of(pid_t pid) {
  auto text = read_all("/proc/" + std::to_string(pid) + "/cmdline");
  std::replace(text.begin(), text.end(), '\0', ' ');
  return text;
}

// Parent pid of every process, from /proc/<pid>/stat.
std::map<pid_t, pid_t> parents() {
  std::map<pid_t, pid_t> result;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    auto name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    auto stat = read_all(entry.path() / "stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    result[std::stoi(name)] = ppid;
  }
  return result;
}

std::vector<pid_t> descendants(pid_t root) {
  auto all = parents();
  std::vector<pid_t> found = {root};
  for (std::size_t i = 0; i < found.size(); ++i) {
    for (const auto& [pid, ppid] : all) {
      if (ppid == found[i]) found.push_back(pid);
    }
  }
  found.erase(found.begin());
  return found;
}

// Stops processes that are not our children (TERM, then KILL), each checked
// against `owner_mark` in its command line so a reused pid is never hit.
void stop_foreign(const std::vector<pid_t>& pids, const std::string& owner_mark) {
  std::vector<pid_t> ours;
  for (pid_t pid : pids) {
    if (pid > 0 && cmdline_of(pid).find(owner_mark) != std::string::npos) ours.push_back(pid);
  }
  for (pid_t pid : ours) ::kill(pid, SIGTERM);
  auto all_gone = [&] { return std::all_of(ours.begin(), ours.end(), process_gone); };
  if (poll_until(all_gone, 3s)) return;
  for (pid_t pid : ours) {
    if (!process_gone(pid)) ::kill(pid, SIGKILL);
  }
  poll_until(all_gone, 3s);
}

std::string unescape_mountinfo(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += text[i];
    }
  }
  return out;
}

// The minor device number of the mount at `point` (for FUSE, the connection
// number under /sys/fs/fuse/connections), or nullopt when nothing is mounted
// there. Read from /proc/self/mountinfo: never touches the mount itself.
std::optional<unsigned> mounted_minor(const fs::path& point) {
  std::istringstream lines(read_all("/proc/self/mountinfo"));
  std::optional<unsigned> minor;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root, where;
    fields >> id >> parent >> device >> root >> where;
    if (unescape_mountinfo(where) != point.string()) continue;
    auto colon = device.find(':');
    if (colon != std::string::npos)
      minor = static_cast<unsigned>(std::stoul(device.substr(colon + 1)));
  }
  return minor;
}

bool any_mount_under(const fs::path& dir) {
  std::istringstream lines(read_all("/proc/self/mountinfo"));
  auto prefix = dir.string() + "/";
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root, where;
    fields >> id >> parent >> device >> root >> where;
    if (unescape_mountinfo(where).rfind(prefix, 0) == 0) return true;
  }
  return false;
}

bool executable(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("no free port on 127.0.0.1");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

SshfsShare::SshfsShare(Host host) : host_(host) {
  std::string tmpl = (fs::temp_directory_path() / "inboxd-share-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  root_ = tmpl;
  fs::create_directories(backing());
}

SshfsShare::~SshfsShare() {
  try {
    unmount_all();
    stop_sshd();
    reap_stragglers(3s);
    stop_namespace();
    if (fusectl_mounted_) run({"umount", "/sys/fs/fuse/connections"});
  } catch (...) {
  }
  std::error_code ec;
  if (any_mount_under(root_)) return;  // never descend into a mount that is still there
  fs::remove_all(root_, ec);
}

std::string SshfsShare::missing_requirement(Host host) {
  if (::geteuid() != 0) return "needs root (sshd, FUSE mounts)";
  int fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0) return "/dev/fuse cannot be opened";
  ::close(fd);
  for (const char* program :
       {"sshfs", "fusermount3", "ssh", "ssh-keygen", "stat", "/usr/sbin/sshd"}) {
    if (!executable(program)) return std::string(program) + " is not installed";
  }
  if (host == Host::kNamespace && !executable("ip")) return "ip (iproute2) is not installed";
  return "";
}

pid_t SshfsShare::spawn(const std::vector<std::string>& argv, const fs::path& output) const {
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::string program = argv[0];
  if (program.find('/') == std::string::npos) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
      if (!dir.empty() && ::access((dir + "/" + argv[0]).c_str(), X_OK) == 0) {
        program = dir + "/" + argv[0];
        break;
      }
    }
  }
  std::vector<std::string> words = argv;
  std::vector<char*> args;
  for (auto& word : words) args.push_back(word.data());
  args.push_back(nullptr);
  std::string out = output.string();
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("cannot start " + argv[0]);
  if (pid == 0) {
    // Should the test process die without its cleanup (a CTest timeout
    // kills it), sshd and sshfs get SIGTERM: sshfs then unmounts.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(126);
    int in = ::open("/dev/null", O_RDONLY);
    int log = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || log < 0 || ::dup2(in, 0) < 0 || ::dup2(log, 1) < 0 || ::dup2(log, 2) < 0)
      ::_exit(126);
    if (in > 2) ::close(in);
    if (log > 2) ::close(log);
    ::execve(program.c_str(), args.data(), environ);
    ::_exit(127);
  }
  return pid;
}

SshfsShare::Run SshfsShare::run(const std::vector<std::string>& argv,
                                std::chrono::milliseconds limit) {
  auto output = root_ / ("run-" + std::to_string(++runs_) + ".out");
  Run result;
  pid_t pid = spawn(argv, output);
  int status = 0;
  if (reap(pid, limit, &status)) {
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  } else {
    ::kill(pid, SIGKILL);
    if (!reap(pid, 500ms)) stragglers_.push_back(pid);  // stuck in a hung mount
  }
  result.output = read_all(output);
  std::error_code ec;
  fs::remove(output, ec);
  return result;
}

std::string SshfsShare::filesystem_type(const fs::path& path) {
  auto r = run({"stat", "-f", "-c", "%t", path.string()}, 5s);
  if (!r.exit_code || *r.exit_code != 0) return "";
  auto text = r.output;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return "0x" + text;
}

std::string SshfsShare::sshd_log() const { return read_all(root_ / "sshd.log"); }

void SshfsShare::start() {
  auto keygen = [&](const std::string& name) {
    auto r = run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "inboxd-test", "-f",
                  (root_ / name).string()},
                 20s);
    if (!r.exit_code || *r.exit_code != 0)
      throw std::runtime_error("ssh-keygen failed: " + r.output);
  };
  keygen("host_key");
  keygen("client_key");
  fs::copy_file(root_ / "client_key.pub", root_ / "authorized_keys");
  fs::create_directories("/run/sshd");  // sshd's privilege separation directory
  if (host_ == Host::kNamespace) start_namespace();
  start_sshd();
}

void SshfsShare::start_namespace() {
  std::random_device random;
  std::mt19937 rng(random());
  auto tag = std::to_string(::getpid() % 100000) + "x" + std::to_string(rng() % 1000);
  netns_ = "inboxd-share-" + tag;
  veth_host_ = "ibs" + tag + "h";  // at most 15 characters
  veth_ns_ = "ibs" + tag + "n";
  // A /30 in 10.213.0.0/16 that no interface here uses yet.
  auto in_use = run({"ip", "-o", "-4", "addr", "show"}).output;
  std::string prefix;
  for (int attempt = 0; attempt < 100; ++attempt) {
    prefix = "10.213." + std::to_string(rng() % 256) + "." + std::to_string((rng() % 64) * 4);
    auto base = prefix.substr(0, prefix.rfind('.') + 1);
    auto last = std::stoi(prefix.substr(prefix.rfind('.') + 1));
    if (in_use.find(base + std::to_string(last + 1) + "/") == std::string::npos &&
        in_use.find(base + std::to_string(last + 2) + "/") == std::string::npos) {
      break;
    }
  }
  auto base = prefix.substr(0, prefix.rfind('.') + 1);
  auto last = std::stoi(prefix.substr(prefix.rfind('.') + 1));
  auto host_address = base + std::to_string(last + 1);
  address_ = base + std::to_string(last + 2);
  auto ip = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"ip"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run(argv, 10s);
    if (!r.exit_code || *r.exit_code != 0) {
      std::string words;
      for (const auto& a : argv) words += a + " ";
      throw std::runtime_error("failed: " + words + "\n" + r.output);
    }
  };
  // `ip netns add` makes /run/netns a mount of its own the first time;
  // cleanup takes it away again when it was not there before and is empty.
  run_netns_mounted_before_ = mounted_minor("/run/netns").has_value();
  ip({"netns", "add", netns_});
  netns_made_ = true;
  ip({"link", "add", veth_host_, "type", "veth", "peer", "name", veth_ns_});
  veth_made_ = true;
  ip({"link", "set", veth_ns_, "netns", netns_});
  ip({"addr", "add", host_address + "/30", "dev", veth_host_});
  ip({"link", "set", veth_host_, "up"});
  ip({"netns", "exec", netns_, "ip", "addr", "add", address_ + "/30", "dev", veth_ns_});
  ip({"netns", "exec", netns_, "ip", "link", "set", veth_ns_, "up"});
  ip({"netns", "exec", netns_, "ip", "link", "set", "lo", "up"});
}

void SshfsShare::start_sshd() {
  port_ = host_ == Host::kLoopback ? free_loopback_port() : 2222;
  auto config = root_ / "sshd_config";
  std::ofstream(config) << "ListenAddress " << address_ << "\n"
                        << "Port " << port_ << "\n"
                        << "HostKey " << (root_ / "host_key").string() << "\n"
                        << "AuthorizedKeysFile " << (root_ / "authorized_keys").string() << "\n"
                        << "PasswordAuthentication no\n"
                        << "KbdInteractiveAuthentication no\n"
                        << "PermitRootLogin prohibit-password\n"
                        << "StrictModes no\n"
                        << "UsePAM no\n"
                        << "PidFile " << (root_ / "sshd.pid").string() << "\n"
                        << "Subsystem sftp internal-sftp\n";
  std::vector<std::string> argv;
  // `ip netns exec` execs its command: the pid stays sshd's.
  if (host_ == Host::kNamespace) argv = {"ip", "netns", "exec", netns_};
  for (const auto& word : {std::string("/usr/sbin/sshd"), std::string("-D"), std::string("-f"),
                           config.string(), std::string("-E"), (root_ / "sshd.log").string()}) {
    argv.push_back(word);
  }
  sshd_ = spawn(argv, root_ / "sshd.out");
  bool listening = poll_until(
      [&] {
        if (sshd_log().find("Server listening") != std::string::npos) return true;
        int status = 0;
        if (::waitpid(sshd_, &status, WNOHANG) == sshd_) {
          sshd_ = -1;
          return true;
        }
        return false;
      },
      10s);
  if (!listening || sshd_ < 0) {
    throw std::runtime_error("sshd did not start:\n" + sshd_log() + read_all(root_ / "sshd.out"));
  }
}

fs::path SshfsShare::mount(const std::string& options) {
  if (sshd_ < 0) throw std::runtime_error("SshfsShare::mount before start()");
  auto n = std::to_string(mounts_.size() + 1);
  Mount m;
  m.point = root_ / ("mnt" + n);
  m.ssh_pid_file = root_ / ("ssh" + n + ".pid");
  fs::create_directories(m.point);
  // sshfs starts ssh in a grandchild: a wrapper records its pid for cleanup.
  auto wrapper = root_ / ("ssh" + n);
  std::ofstream(wrapper) << "#!/bin/sh\necho $$ > '" << m.ssh_pid_file.string()
                         << "'\nexec ssh \"$@\"\n";
  fs::permissions(wrapper, fs::perms::owner_all);
  auto all_options = "IdentityFile=" + (root_ / "client_key").string() +
                     ",StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,BatchMode=yes"
                     ",LogLevel=ERROR,ssh_command=" +
                     wrapper.string();
  if (!options.empty()) all_options += "," + options;
  m.sshfs = spawn({"sshfs", "-f", "-p", std::to_string(port_), "-o", all_options,
                   "root@" + address_ + ":" + backing().string(), m.point.string()},
                  root_ / ("sshfs" + n + ".log"));
  mounts_.push_back(m);
  auto& added = mounts_.back();
  bool up = poll_until(
      [&] {
        if (mounted_minor(added.point)) return true;
        int status = 0;
        if (::waitpid(added.sshfs, &status, WNOHANG) == added.sshfs) {
          added.sshfs = -1;
          return true;
        }
        return false;
      },
      15s);
  added.mounted = mounted_minor(added.point).has_value();
  if (!up || !added.mounted) {
    throw std::runtime_error("sshfs did not mount " + added.point.string() + ":\n" +
                             read_all(root_ / ("sshfs" + n + ".log")) + sshd_log());
  }
  return added.point;
}

void SshfsShare::partition() {
  auto r = run({"ip", "link", "set", veth_host_, "down"});
  if (host_ != Host::kNamespace || !r.exit_code || *r.exit_code != 0) {
    throw std::runtime_error("cannot cut the link: " + r.output);
  }
}

void SshfsShare::heal() {
  auto r = run({"ip", "link", "set", veth_host_, "up"});
  if (host_ != Host::kNamespace || !r.exit_code || *r.exit_code != 0) {
    throw std::runtime_error("cannot restore the link: " + r.output);
  }
}

bool SshfsShare::ensure_fusectl() {
  std::error_code ec;
  if (!fs::is_empty("/sys/fs/fuse/connections", ec) && !ec) return true;
  auto r = run({"mount", "-t", "fusectl", "fusectl", "/sys/fs/fuse/connections"});
  fusectl_mounted_ = r.exit_code && *r.exit_code == 0;
  return fusectl_mounted_;
}

void SshfsShare::unmount(Mount& m) {
  if (mounted_minor(m.point)) {
    auto r = run({"fusermount3", "-u", m.point.string()}, 5s);
    if (auto minor = mounted_minor(m.point)) {
      // Busy or hung: abort the connection (every waiting request fails),
      // then detach the mount.
      ensure_fusectl();
      std::ofstream(fs::path("/sys/fs/fuse/connections") / std::to_string(*minor) / "abort") << "1";
      run({"fusermount3", "-uz", m.point.string()}, 5s);
      if (mounted_minor(m.point)) run({"umount", "-l", m.point.string()}, 5s);
    }
  }
  m.mounted = mounted_minor(m.point).has_value();
  if (m.sshfs > 0) {
    if (!reap(m.sshfs, 3s)) {
      ::kill(m.sshfs, SIGTERM);
      if (!reap(m.sshfs, 2s)) {
        ::kill(m.sshfs, SIGKILL);
        reap(m.sshfs, 5s);
      }
    }
    m.sshfs = -1;
  }
  // ssh ends once sshfs closed its pipes, unless it is stuck on a cut link.
  auto text = read_all(m.ssh_pid_file);
  if (!text.empty()) {
    pid_t ssh = std::stoi(text);
    if (!poll_until([&] { return process_gone(ssh); }, 2s)) stop_foreign({ssh}, root_.string());
    std::error_code ec;
    fs::remove(m.ssh_pid_file, ec);
  }
}

void SshfsShare::unmount_all() {
  for (auto& m : mounts_) unmount(m);
}

void SshfsShare::stop_sshd() {
  if (sshd_ <= 0) return;
  // Each connection is served by a child of the listener (in a session of
  // its own): found before the listener goes, stopped by pid.
  auto children = descendants(sshd_);
  ::kill(sshd_, SIGTERM);
  if (!reap(sshd_, 3s)) {
    ::kill(sshd_, SIGKILL);
    reap(sshd_, 3s);
  }
  sshd_ = -1;
  std::vector<pid_t> sessions;
  for (pid_t pid : children) {
    if (cmdline_of(pid).find("sshd") != std::string::npos) sessions.push_back(pid);
  }
  for (pid_t pid : sessions) ::kill(pid, SIGTERM);
  if (!poll_until([&] { return std::all_of(sessions.begin(), sessions.end(), process_gone); },
                  3s)) {
    for (pid_t pid : sessions) {
      if (!process_gone(pid)) ::kill(pid, SIGKILL);
    }
    poll_until([&] { return std::all_of(sessions.begin(), sessions.end(), process_gone); }, 3s);
  }
}

void SshfsShare::reap_stragglers(std::chrono::milliseconds limit) {
  for (pid_t pid : stragglers_) {
    ::kill(pid, SIGKILL);
    reap(pid, limit);
  }
  stragglers_.clear();
}

void SshfsShare::stop_namespace() {
  if (veth_made_) run({"ip", "link", "del", veth_host_});  // takes its peer along
  veth_made_ = false;
  if (netns_made_) {
    run({"ip", "netns", "del", netns_});
    std::error_code ec;
    if (!run_netns_mounted_before_ && fs::is_empty("/run/netns", ec)) {
      run({"umount", "/run/netns"});
    }
  }
  netns_made_ = false;
}

}  // namespace inboxd::testing
