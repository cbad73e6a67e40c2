#pragma once
// watcher: finds files in a drop folder and says when each is complete.
//
//   scan_directory / stat_entry  read the folder (never following symlinks,
//                                never opening anything)
//   InotifyWatcher               raw inotify on a non-blocking fd driven by
//                                uv_poll; events are hints, the scan is the truth
//   SettleTracker                decides when a file has been unchanged long
//                                enough (monotonic clock only)
//   NameFilter                   include/exclude globs, case-insensitive
//
// The watcher knows nothing of SQLite, the queue or the admin socket. Paths
// inside an inbox are "rel" byte strings relative to the inbox root, using '/'
// between components; file names may hold any bytes except '/' and NUL.

#include "watcher/file_info.hpp"
#include "watcher/inotify_watcher.hpp"
#include "watcher/name_filter.hpp"
#include "watcher/settle_tracker.hpp"
