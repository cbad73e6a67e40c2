#pragma once
// watch_command: `inboxctl watch`. On a terminal, a live view redrawn from
// the daemon's event stream plus a status poll every second: per inbox
// done/total, failures, rate and ETA, what is running now and the latest
// events. Elsewhere (a pipe, a file) or with --json, one line per event
// (--json: the daemon's lines as they came). Runs until the daemon closes the
// stream (exit 69, it can no longer be reached) or Ctrl-C (exit 0).

#include "daemon/inboxctl/admin_client.hpp"
#include "daemon/inboxctl/command_line.hpp"
#include "daemon/inboxctl/text.hpp"

namespace inboxd::inboxctl {

// stream is connected; the watch request has not been sent yet.
int run_watch(AdminClient stream, const Invocation& invocation, const Style& style);

}  // namespace inboxd::inboxctl
