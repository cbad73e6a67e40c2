#pragma once
// Filesystem detection: which kind of filesystem a folder is on, from
// statfs(2). inotify only reports changes made through the local kernel, so
// on network filesystems (NFS, SMB/CIFS, Ceph, AFS, 9p, ...), cluster
// filesystems shared between hosts (OCFS2, GFS2, Lustre, GPFS) and FUSE
// mounts (sshfs, glusterfs, virtiofs, ...) it never hears about a file that
// another machine wrote: those are polled. The same list decides that the
// state database must not live there (SQLite's locking and fsync are not
// reliable over a network).

#include <filesystem>
#include <string>

#include "common/result.hpp"

namespace inboxd::watcher {

struct Filesystem {
  std::string name;         // "ext4", "nfs", "fuse", or the magic number in hex
  unsigned long magic = 0;  // statfs f_type
  bool shared = false;      // network, cluster or FUSE: poll it, keep no database there

  // "nfs filesystem (statfs type 0x6969)"
  std::string describe() const;
};

// Classifies a statfs f_type value.
Filesystem classify_filesystem(unsigned long magic);

// statfs(path), classified. Errors name the operation and the path.
Result<Filesystem> filesystem_of(const std::filesystem::path& path);

}  // namespace inboxd::watcher
