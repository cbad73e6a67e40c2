// inboxd: parse arguments, load the configuration, take the state directory,
// open the queue and run the application loop. Exit codes (PRODUCT.md): 0 clean
// stop, 78 configuration error, 75 another instance holds the state directory,
// 73 state directory or database cannot be created/opened, 1 anything else.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <system_error>

#include "common/log.hpp"
#include "common/version.hpp"
#include "daemon/app/application.hpp"
#include "daemon/app/state_lock.hpp"
#include "daemon/config/config.hpp"
#include "daemon/queue/queue_store.hpp"
#include "daemon/runner/handler_process.hpp"
#include "daemon/runner/inherited_fds.hpp"
#include "watcher/filesystem.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitOther = 1;
constexpr int kExitCantCreate = 73;
constexpr int kExitTempFail = 75;
constexpr int kExitConfig = 78;

struct Options {
  std::string config_file;
  bool check = false;
  std::optional<std::string> log_level;
};

std::string default_config_file() {
  const char* env = std::getenv("INBOXD_CONFIG");
  return env != nullptr && *env != '\0' ? env : "/etc/inboxd/inboxd.yaml";
}

inboxd::log::Format log_format(inboxd::config::LogFormat format) {
  return inboxd::log::format_for(format == inboxd::config::LogFormat::kJson);
}

int run_daemon(inboxd::config::Config config) {
  auto log = inboxd::log::get("app");
  std::error_code ec;
  std::filesystem::create_directories(config.state_dir, ec);
  if (ec) {
    log->error("cannot create state directory {}: {}", config.state_dir.string(), ec.message());
    return kExitCantCreate;
  }
  // The database needs working locks and fsync: never on a share.
  if (auto fs = inboxd::watcher::filesystem_of(config.state_dir); fs && fs->shared) {
    log->error(
        "state_dir {} is on a {}: keep it on a local disk (queue.db needs local locking and "
        "fsync; each host has its own state_dir)",
        config.state_dir.string(), fs->describe());
    return kExitCantCreate;
  }
  auto failure = inboxd::app::StateLock::Failure::kIo;
  auto lock = inboxd::app::StateLock::acquire(config.state_dir, &failure);
  if (!lock) {
    log->error("{}", lock.error().message);
    return failure == inboxd::app::StateLock::Failure::kHeld ? kExitTempFail : kExitCantCreate;
  }
  auto db_file = config.state_dir / "queue.db";
  auto store = inboxd::queue::QueueStore::open(db_file, inboxd::queue::Durability::kGrouped);
  if (!store) {
    log->error("cannot open queue: {}", store.error().message);
    return kExitCantCreate;
  }
  auto wal = inboxd::queue::WalSync::open(db_file);
  if (!wal) {
    log->error("cannot open queue: {}", wal.error().message);
    return kExitCantCreate;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  int code = kExitOk;
  {
    inboxd::app::Application app(&loop, std::move(config), std::move(*lock), std::move(*store),
                                 std::move(*wal));
    code = app.run();
  }
  uv_run(&loop, UV_RUN_DEFAULT);  // let close callbacks free what the application closed
  if (uv_loop_close(&loop) != 0) log->debug("event loop closed with handles still open");
  return code;
}

int run_main(int argc, char** argv) {
  Options options;
  options.config_file = default_config_file();
  CLI::App cli{"inboxd: drop-folder processing daemon"};
  cli.add_option("--config", options.config_file, "configuration file")->capture_default_str();
  cli.add_flag("--check", options.check, "validate the configuration and exit (0 valid, 78 not)");
  cli.add_option("--log-level", options.log_level, "trace, debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  cli.set_version_flag("--version", std::string("inboxd ") + inboxd::kVersion);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? kExitOk : kExitConfig;
  }

  // A closed fd 0-2 would be handed to the next file the daemon opens (the
  // database, a socket), and stray writes to stderr would land in it.
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) < 0 && errno == EBADF) ::open("/dev/null", O_RDWR);
  }
  // Handlers must inherit only fds 0-2, whatever our parent left open.
  inboxd::runner::mark_inherited_fds_cloexec();
  ::signal(SIGPIPE, SIG_IGN);
  ::umask(027);

  auto level = inboxd::log::parse_level(options.log_level.value_or("info")).value();
  inboxd::log::setup(log_format(inboxd::config::LogFormat::kText), level);
  auto log = inboxd::log::get("config");
  inboxd::config::Config config;
  try {
    config = inboxd::config::load_config(options.config_file,
                                         inboxd::config::Environment::from_process());
  } catch (const inboxd::config::ConfigError& e) {
    for (const auto& message : e.messages()) log->error("{}", message);
    log->error("configuration invalid: {} problem{}", e.messages().size(),
               e.messages().size() == 1 ? "" : "s");
    return kExitConfig;
  }
  if (!options.log_level) level = inboxd::log::parse_level(config.log_level).value();
  inboxd::log::setup(log_format(config.log_format), level);
  if (options.check) {
    std::cout << options.config_file << ": ok (" << config.inboxes.size() << " inbox"
              << (config.inboxes.size() == 1 ? "" : "es") << ")\n";
    return kExitOk;
  }
  try {
    return run_daemon(std::move(config));
  } catch (const std::exception& e) {
    log->critical("fatal: {}", e.what());
    return kExitOther;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing may escape main: a failure while setting up (say, memory) is
  // reported and ends with status 1 rather than std::terminate.
  try {
    return run_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "inboxd: fatal: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "inboxd: fatal: unknown error\n");
  }
  return kExitOther;
}
