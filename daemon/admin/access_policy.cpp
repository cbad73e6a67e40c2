#include "daemon/admin/access_policy.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/log.hpp"

namespace inboxd::admin {
namespace {

constexpr std::size_t kInitialBuffer = 1024;
constexpr std::size_t kMaxBuffer = 1024 * 1024;

// getgrnam_r with a buffer that grows on ERANGE.
bool lookup_group(const std::string& name, gid_t* gid) {
  std::vector<char> buffer(kInitialBuffer);
  while (buffer.size() <= kMaxBuffer) {
    group entry{};
    group* found = nullptr;
    int rc = ::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (rc != 0 || found == nullptr) return false;
    *gid = found->gr_gid;
    return true;
  }
  return false;
}

// The user name of uid, or empty when the database does not know it.
std::string user_name(uid_t uid) {
  std::vector<char> buffer(kInitialBuffer);
  while (buffer.size() <= kMaxBuffer) {
    passwd entry{};
    passwd* found = nullptr;
    int rc = ::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (rc != 0 || found == nullptr) return {};
    return found->pw_name;
  }
  return {};
}

}  // namespace

bool read_peer(int fd, Peer* peer) {
  ucred cred{};
  socklen_t length = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return false;
  peer->pid = cred.pid;
  peer->uid = cred.uid;
  peer->gid = cred.gid;
  // SO_PEERGROUPS needs Linux 4.13; without it the group database decides.
  std::vector<gid_t> groups(64);
  length = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
  int rc = ::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length);
  if (rc != 0 && errno == ERANGE) {
    groups.resize(length / sizeof(gid_t));
    rc = ::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &length);
  }
  if (rc == 0) {
    groups.resize(length / sizeof(gid_t));
    peer->groups = std::move(groups);
  }
  return true;
}

AccessPolicy::AccessPolicy(const std::vector<std::string>& admin_groups)
    : daemon_uid_(::geteuid()) {
  for (const auto& name : admin_groups) {
    gid_t gid = 0;
    if (lookup_group(name, &gid)) {
      admin_gids_.push_back(gid);
    } else {
      log::get("admin")->warn("admin group does not exist group={}", log::quote(name));
    }
  }
}

bool AccessPolicy::may_change(const Peer& peer) const {
  if (peer.uid == 0 || peer.uid == daemon_uid_) return true;
  if (admin_gids_.empty()) return false;
  if (is_admin_gid(peer.gid)) return true;
  if (std::any_of(peer.groups.begin(), peer.groups.end(),
                  [this](gid_t gid) { return is_admin_gid(gid); })) {
    return true;
  }
  auto listed = database_groups(peer.uid, peer.gid);
  return std::any_of(listed.begin(), listed.end(), [this](gid_t gid) { return is_admin_gid(gid); });
}

bool AccessPolicy::is_admin_gid(gid_t gid) const {
  return std::find(admin_gids_.begin(), admin_gids_.end(), gid) != admin_gids_.end();
}

std::vector<gid_t> AccessPolicy::database_groups(uid_t uid, gid_t gid) const {
  auto name = user_name(uid);
  if (name.empty()) return {};
  std::vector<gid_t> groups(32);
  int count = static_cast<int>(groups.size());
  if (::getgrouplist(name.c_str(), gid, groups.data(), &count) < 0) {
    // count now holds the number needed.
    groups.resize(static_cast<std::size_t>(count));
    if (::getgrouplist(name.c_str(), gid, groups.data(), &count) < 0) return {};
  }
  groups.resize(static_cast<std::size_t>(count));
  return groups;
}

}  // namespace inboxd::admin
