#pragma once
// AccessPolicy: who may run changing commands (retry, cancel, pause, resume,
// reload). Root, the daemon's own effective uid, and members of admin_groups
// may; read-only commands are open to whoever can connect to the socket.
//
// A peer is a member of a group when the group is its primary gid, one of the
// supplementary groups its process held when it connected (SO_PEERGROUPS),
// or one the group database lists for its user (getpwuid_r + getgrouplist, so
// a user added to the group is admitted before logging in again).

#include <sys/types.h>

#include <string>
#include <vector>

namespace inboxd::admin {

// The credentials of a connected client, read with SO_PEERCRED (and
// SO_PEERGROUPS) when it connected.
struct Peer {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups of the process, when known
};

// Reads the credentials of the client on a connected Unix socket. Returns
// false (errno set) when the kernel does not tell.
bool read_peer(int fd, Peer* peer);

class AccessPolicy {
 public:
  // Resolves the group names now (they are looked up once, not per command);
  // a name that does not exist is logged as a warning and admits nobody.
  explicit AccessPolicy(const std::vector<std::string>& admin_groups);

  bool may_change(const Peer& peer) const;

 private:
  bool is_admin_gid(gid_t gid) const;
  std::vector<gid_t> database_groups(uid_t uid, gid_t gid) const;

  uid_t daemon_uid_;
  std::vector<gid_t> admin_gids_;
};

}  // namespace inboxd::admin
