#include "watcher/filesystem.hpp"

#include <sys/statfs.h>

#include <array>

#include <fmt/format.h>

#include "common/sys_error.hpp"

namespace inboxd::watcher {
namespace {

struct Known {
  unsigned long magic;
  const char* name;
  bool shared;
};

// Magic numbers from linux/magic.h and the filesystems' own sources (several
// are not in the kernel's uapi headers).
constexpr std::array kKnown = {
    // Shared between hosts: inotify cannot see other hosts' writes.
    Known{0x6969UL, "nfs", true},
    Known{0x517BUL, "smb", true},
    Known{0xFF534D42UL, "cifs", true},
    Known{0xFE534D42UL, "smb2", true},
    Known{0x65735546UL, "fuse", true},
    Known{0x01021997UL, "9p", true},
    Known{0x00C36400UL, "ceph", true},
    Known{0x5346414FUL, "afs", true},
    Known{0x6B414653UL, "afs", true},  // kAFS
    Known{0x73757245UL, "coda", true},
    Known{0x564CUL, "ncp", true},
    Known{0x7461636FUL, "ocfs2", true},
    Known{0x01161970UL, "gfs2", true},
    Known{0x0BD00BD0UL, "lustre", true},
    Known{0x47504653UL, "gpfs", true},
    Known{0xAAD7AAEAUL, "panfs", true},
    Known{0x13661366UL, "orangefs", true},
    Known{0x786F4256UL, "vboxsf", true},
    Known{0x7C7C6673UL, "prl_fs", true},
    Known{0x19830326UL, "fhgfs", true},  // BeeGFS
    // Local.
    Known{0xEF53UL, "ext4", false},
    Known{0x58465342UL, "xfs", false},
    Known{0x9123683EUL, "btrfs", false},
    Known{0x01021994UL, "tmpfs", false},
    Known{0x2FC12FC1UL, "zfs", false},
    Known{0x794C7630UL, "overlay", false},
    Known{0xF2F52010UL, "f2fs", false},
    Known{0x4D44UL, "vfat", false},
    Known{0x2011BAB0UL, "exfat", false},
    Known{0x7366746EUL, "ntfs3", false},
    Known{0x5346544EUL, "ntfs", false},
    Known{0x52654973UL, "reiserfs", false},
    Known{0x3153464AUL, "jfs", false},
    Known{0x858458F6UL, "ramfs", false},
};

}  // namespace

std::string Filesystem::describe() const {
  return fmt::format("{} filesystem (statfs type {:#x})", name, magic);
}

Filesystem classify_filesystem(unsigned long magic) {
  for (const auto& known : kKnown) {
    if (known.magic == magic) return {known.name, magic, known.shared};
  }
  return {fmt::format("{:#x}", magic), magic, false};
}

Result<Filesystem> filesystem_of(const std::filesystem::path& path) {
  struct statfs st {};
  if (::statfs(path.c_str(), &st) != 0) return fail_errno("statfs", path.string());
  return classify_filesystem(static_cast<unsigned long>(st.f_type));
}

}  // namespace inboxd::watcher
